"""The CLI's single error boundary and its output helpers (BRIEF §6b).

Every command body runs inside :func:`guarded`: a :class:`~wfc.errors.WfcError` becomes
``error: …`` and ``hint: …`` on stderr (or ``{"error", "hint", "exit_code"}`` on stdout under
``--json``) and its documented exit code; Ctrl-C exits 130; a traceback is shown only with
``--verbose``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from wfc.errors import ExitCode, WfcError
from wfc.output import error_text, json_text


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
    out, err = error_text(message, hint, code, json_mode)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


def emit_json(document: dict[str, Any]) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json_text(document))


def say(message: str) -> None:
    """Print a human message on stderr (stdout is for results)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
