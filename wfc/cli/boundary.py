"""The CLI's single error boundary and its output helpers (BRIEF §6b).

Every command runs inside :func:`guarded`, applied by the :func:`guard` decorator: a
:class:`~wfc.errors.WfcError` becomes ``error: …`` and ``hint: …`` on stderr (or
``{"error", "hint", "exit_code"}`` on stdout under ``--json``) and its documented exit code;
Ctrl-C exits 130; a traceback is shown only with ``--verbose``; output cut short by its reader
(``wfc runs | head -1``) ends quietly with 141. A command's ``--json`` output is one API value
printed by :func:`emit_json`.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, ParamSpec, overload

from wfc.errors import ExitCode, WfcError
from wfc.output import error_text, json_text

P = ParamSpec("P")
JsonWhen = Callable[[Mapping[str, Any]], bool]


def guarded(body: Callable[[], int | None], *, json_mode: bool = False, verbose: bool = False) -> NoReturn:
    """Run ``body`` and exit with its code, turning errors into one-line messages."""
    try:
        code = body() or 0
    except WfcError as exc:
        code = _report(exc.message, exc.hint, exc.exit_code, json_mode, verbose)
    except KeyboardInterrupt:
        code = _report("interrupted", "", ExitCode.INTERRUPTED, json_mode, verbose)
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and _output_closed():
            _quiet_exit()  # any other broken pipe (a socket, a subprocess) is a bug, reported below
        infra = _infra_failure(exc)
        if infra is not None:
            code = _report(*infra, ExitCode.INFRA, json_mode, verbose)
        else:
            code = _report(
                f"internal error: {type(exc).__name__}: {exc}",
                "this is a bug in wfc: rerun with --verbose and report the traceback",
                ExitCode.FAILED,
                json_mode,
                True,
            )
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_exit()
    sys.exit(int(code))


DISK_HINT = "free space (`wfc cache gc` helps) or fix the disk, then run again: nothing half-written was kept"
DB_HINT = "check that the database (WFC_DATABASE_URL) is reachable, then run again: finished steps are kept"
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}
_DISK_SQL = ("disk i/o error", "database or disk is full", "readonly database")


def _infra_failure(exc: BaseException) -> tuple[str, str] | None:
    """The message and hint for a failing or full disk (the store's or the database's) or a
    database that went away mid-command, or None: those are the machine's trouble, not bugs."""
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"disk error: {os.strerror(exc.errno or 0)}{where}", DISK_HINT
    if type(exc).__name__ not in ("OperationalError", "DatabaseError", "InterfaceError"):
        return None
    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if any(m in first.lower() for m in _DISK_SQL):
        return f"the lineage database could not write: {first}", DISK_HINT
    return f"the lineage database failed: {first}", DB_HINT


# What `git log | head -1` or `cat big | head -1` report: killed by SIGPIPE, 128 + 13. A shell
# without `pipefail` ignores it; with `pipefail`, wfc behaves exactly like those tools.
EXIT_BROKEN_PIPE = 141


def _output_closed() -> bool:
    """Whether our stdout or stderr is a pipe whose reader has gone (``| head`` has exited)."""
    import select

    for stream in (sys.stdout, sys.stderr):
        try:
            poller = select.poll()
            poller.register(stream.fileno(), select.POLLOUT)
            if any(events & select.POLLERR for _, events in poller.poll(0)):
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


def _quiet_exit() -> NoReturn:
    """Leave without a message when the reader of our output has gone, as Unix tools do.

    Python would flush stdout again at shutdown and print "Exception ignored … BrokenPipeError":
    point the descriptor at /dev/null first (the recipe of the ``signal`` module's documentation).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    sys.exit(EXIT_BROKEN_PIPE)


def _json_flag(kwargs: Mapping[str, Any]) -> bool:
    return bool(kwargs.get("json_out"))


@overload
def guard(command: Callable[P, int | None], /) -> Callable[P, None]: ...
@overload
def guard(*, json_when: JsonWhen) -> Callable[[Callable[P, int | None]], Callable[P, None]]: ...
def guard(
    command: Callable[P, int | None] | None = None, /, *, json_when: JsonWhen = _json_flag
) -> Callable[P, None] | Callable[[Callable[P, int | None]], Callable[P, None]]:
    """Run a command inside the error boundary; it may return an exit code (``None`` is 0).

    Errors are JSON documents when the command's ``json_out`` keyword is true (or, given
    ``json_when``, when that says so from the keywords); tracebacks show with its ``verbose``.
    typer sees the command's own signature (``functools.wraps`` sets ``__wrapped__``)::

        @app.command("show")
        @guard
        def show_cmd(run: RunArg, json_out: JsonOpt = False, verbose: VerboseOpt = False) -> None: ...
    """

    def decorate(func: Callable[P, int | None]) -> Callable[P, None]:
        @functools.wraps(func)
        def bounded(*args: P.args, **kwargs: P.kwargs) -> None:
            json_mode, verbose = json_when(kwargs), bool(kwargs.get("verbose"))
            guarded(lambda: func(*args, **kwargs), json_mode=json_mode, verbose=verbose)

        return bounded

    return decorate if command is None else decorate(command)


def _report(message: str, hint: str, code: int, json_mode: bool, verbose: bool) -> int:
    if verbose:
        import traceback

        traceback.print_exc()
    out, err = error_text(message, hint, code, json_mode)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


def emit_json(value: object) -> None:
    """Print an API value (see :mod:`wfc.api`) on stdout as one JSON document: ``api.to_json``."""
    from wfc.api import to_json

    sys.stdout.write(json_text(to_json(value)))


def say(message: str) -> None:
    """Print a human message on stderr (stdout is for results)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
