"""Text that commands print, shared by the CLI process and the run-pipeline worker: JSON
documents (every ``--json`` output is an API value passed through :func:`to_document`),
``error:`` / ``hint:`` lines and plain tables."""

from __future__ import annotations

import json
from typing import Any


def plural(count: int, noun: str, nouns: str = "") -> str:
    """``count`` and its noun, singular for exactly one: ``plural(1, "core")`` is "1 core",
    ``plural(3, "step run")`` "3 step runs"; ``nouns`` spells an irregular plural."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def size_text(n: float) -> str:
    """A byte count for people: ``1.2 MiB``, ``512 B``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def resources_text(used: dict[str, Any] | None) -> str:
    """What an execution used, in one line (``wfc show``, the report): wall, CPU, peak memory, I/O."""
    if not used:
        return "-"
    parts = [f"{used['wall_s']:.2f}s wall"]
    if used.get("cpu_s") is not None:
        parts.append(f"{used['cpu_s']:.2f}s CPU")
    if used.get("peak_memory_bytes") is not None:
        parts.append(f"peak memory {size_text(used['peak_memory_bytes'])}")
    if used.get("read_bytes") is not None:
        parts.append(f"read {size_text(used['read_bytes'])}, wrote {size_text(used['written_bytes'] or 0)}")
    return ", ".join(parts) + f" ({used.get('source', '?')})"


def error_text(message: str, hint: str, code: int, json_mode: bool) -> tuple[str, str]:
    """An error as ``(stdout, stderr)`` text: a JSON document under ``--json``, else two lines."""
    if json_mode:
        return json_text({"error": message, "hint": hint, "exit_code": int(code)}), ""
    return "", f"error: {message}\n" + (f"hint: {hint}\n" if hint else "")


def to_document(value: Any) -> Any:
    """An API value as plain JSON data: a dataclass becomes an object (led by ``"schema"`` when
    its class declares ``SCHEMA``), enums their values, tuples lists, paths and times strings."""
    import dataclasses  # here, not above: `wfc run-step` under a worker prints text, not values
    from enum import Enum

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        doc = {f.name: to_document(getattr(value, f.name)) for f in dataclasses.fields(value)}
        schema = getattr(type(value), "SCHEMA", None)
        return {"schema": schema, **doc} if schema else doc
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_document(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_document(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # paths, times


def json_text(document: dict[str, Any]) -> str:
    """One JSON document, as printed on stdout."""
    return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"


def table(rows: list[list[str]], header: list[str]) -> str:
    """Render rows as an aligned plain-text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)
