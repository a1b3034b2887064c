"""Naming what differs between two cache keys, component by component (BRIEF §7, ``wfc why``).

Pure functions over recorded values: params and contracts are compared field by field with
dotted paths (``params.k: 2 -> 5``), code trees file by file (``code: methods/m/x/helper.py
changed``). The step layer gathers the two sides; these functions only compare them.
"""

from __future__ import annotations

import json
from typing import Any

_MAX_SHOWN = 60  # characters of a value shown in a message


def show(value: Any) -> str:
    """A value as it appears in a message: JSON, shortened."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def diff_values(old: Any, new: Any, path: str) -> list[str]:
    """Every leaf that differs between two JSON values, as ``path.to.leaf: old -> new``."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path}.{key}"
            if key not in old:
                lines.append(f"{where}: added ({show(new[key])})")
            elif key not in new:
                lines.append(f"{where}: removed (was {show(old[key])})")
            else:
                lines.extend(diff_values(old[key], new[key], where))
        return lines
    if old == new and type(old) is type(new):
        return []
    return [f"{path}: {show(old)} -> {show(new)}"]


def code_entries(document: bytes) -> dict[str, str]:
    """The files of a stored code-tree listing: relative path -> digest."""
    tag, _version, entries = json.loads(document)
    if tag != "wfc.code-tree":
        raise ValueError("not a code-tree listing")
    return {str(path): str(digest) for path, digest in entries}


def diff_code(old: dict[str, str], new: dict[str, str], base: str) -> list[str]:
    """Files added, removed or changed between two code trees, named under ``base``."""
    lines = []
    for path in sorted(set(old) | set(new)):
        if path not in old:
            lines.append(f"code: {base}/{path} added")
        elif path not in new:
            lines.append(f"code: {base}/{path} removed")
        elif old[path] != new[path]:
            lines.append(f"code: {base}/{path} changed")
    return lines


def contract_fields(document: bytes) -> dict[str, Any]:
    """The fields of a stored contract document."""
    tag, _version, fields = json.loads(document)
    if tag != "wfc.contract" or not isinstance(fields, dict):
        raise ValueError("not a contract document")
    return fields


def diff_members(old: list[str] | None, new: list[str] | None) -> list[str]:
    """Samples that joined or left a gather."""
    before, after = set(old or []), set(new or [])
    lines = [f"members: {name} added" for name in sorted(after - before)]
    return lines + [f"members: {name} removed" for name in sorted(before - after)]
