"""The CLI's single error boundary and its output helpers (BRIEF §6b).

Every command body runs inside :func:`guarded`: a :class:`~wfc.errors.WfcError` becomes
``error: …`` and ``hint: …`` on stderr (or ``{"error", "hint", "exit_code"}`` on stdout under
``--json``) and its documented exit code; Ctrl-C exits 130; a traceback is shown only with
``--verbose``.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from wfc.errors import ExitCode, WfcError


def guarded(body: Callable[[], int | None], *, json_mode: bool = False, verbose: bool = False) -> NoReturn:
    """Run ``body`` and exit with its code, turning errors into one-line messages."""
    try:
        code = body() or 0
    except WfcError as exc:
        code = _report(exc.message, exc.hint, exc.exit_code, json_mode, verbose)
    except KeyboardInterrupt:
        code = _report("interrupted", "", ExitCode.INTERRUPTED, json_mode, verbose)
    except Exception as exc:
        code = _report(
            f"internal error: {type(exc).__name__}: {exc}",
            "this is a bug in wfc: rerun with --verbose and report the traceback",
            ExitCode.FAILED,
            json_mode,
            True,
        )
    sys.stdout.flush()
    sys.exit(int(code))


def _report(message: str, hint: str, code: int, json_mode: bool, verbose: bool) -> int:
    if verbose:
        traceback.print_exc()
    if json_mode:
        emit_json({"error": message, "hint": hint, "exit_code": int(code)})
    else:
        say(f"error: {message}")
        if hint:
            say(f"hint: {hint}")
    return code


def emit_json(document: dict[str, Any]) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")


def say(message: str) -> None:
    """Print a human message on stderr (stdout is for results)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def table(rows: list[list[str]], header: list[str]) -> str:
    """Render rows as an aligned plain-text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)
