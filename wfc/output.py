"""Text that commands print, shared by the CLI process and the run-pipeline worker: JSON
documents, ``error:`` / ``hint:`` lines and plain tables."""

from __future__ import annotations

import json
from typing import Any


def error_text(message: str, hint: str, code: int, json_mode: bool) -> tuple[str, str]:
    """An error as ``(stdout, stderr)`` text: a JSON document under ``--json``, else two lines."""
    if json_mode:
        return json_text({"error": message, "hint": hint, "exit_code": int(code)}), ""
    return "", f"error: {message}\n" + (f"hint: {hint}\n" if hint else "")


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
