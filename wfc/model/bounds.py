"""Bounds on a document before any model reads it: its size in bytes, how deep it nests and how
many values it expands to (a YAML alias repeats a whole subtree without costing bytes). A hostile
document (a "billion laughs" ``method.yaml``, a 100,000-deep JSON array) fails at once with a
usage error instead of eating memory or the stack.

:func:`parse_json` and :func:`parse_yaml` read pipeline documents, ``method.yaml`` and values
files; every reader of those goes through them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from wfc.errors import UsageError

MAX_BYTES = 16 << 20  # 16 MiB: a pipeline of thousands of nodes is well under 1 MiB
MAX_DEPTH = 64  # nesting levels (a pipeline document needs about 6)
MAX_VALUES = 500_000  # values after expanding aliases, repeats counted


def parse_json(raw: bytes | str, what: str) -> Any:
    """Parse a JSON document within the bounds.

    Raises:
        UsageError: Too large, too deep or too many values (the JSON syntax errors are the caller's:
            ``json.JSONDecodeError`` and ``UnicodeDecodeError`` pass through).
    """
    return _bounded(json.loads, raw, what)


def parse_yaml(text: str, what: str) -> Any:
    """Parse a YAML document (safe loader) within the bounds.

    Raises:
        UsageError: Too large, too deep or too many values (``yaml.YAMLError`` passes through).
    """
    return _bounded(yaml.safe_load, text, what)


def _bounded(parse: Callable[[Any], Any], raw: bytes | str, what: str) -> Any:
    _check_size(raw, what)
    try:
        data = parse(raw)
    except RecursionError:
        raise _too_deep(what) from None
    check_shape(data, what)
    return data


def check_shape(data: Any, what: str) -> None:
    """Refuse data nested deeper than :data:`MAX_DEPTH` or holding more than :data:`MAX_VALUES`
    values once shared subtrees (aliases) are counted each time they appear.

    Raises:
        UsageError: Either bound broken.
    """
    seen = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise UsageError(
                f"{what}: expands to more than {MAX_VALUES:,} values (repeated YAML aliases?)",
                "write the values out instead of nesting aliases, or split the document",
            )
        if depth > MAX_DEPTH:
            raise _too_deep(what)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _check_size(raw: bytes | str, what: str) -> None:
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise UsageError(
            f"{what}: {size:,} bytes; a document may be at most {MAX_BYTES >> 20} MiB",
            "keep data in samples and files, not in the document",
        )


def _too_deep(what: str) -> UsageError:
    return UsageError(
        f"{what}: nested more than {MAX_DEPTH} levels deep",
        "flatten the document (no real one nests this deep)",
    )
