"""The exceptions that carry user-facing messages, and the exit codes they map to (BRIEF §6b).

Every error a user can cause or fix is a :class:`WfcError`: its text is the one-line message, its
``hint`` the concrete next action, and its ``exit_code`` the documented code. The CLI's single
error boundary (``wfc.cli.boundary``) turns them into ``error: ...`` / ``hint: ...`` lines.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes of every wfc command."""

    OK = 0
    FAILED = 1  # a step or check failed
    USAGE = 2  # usage or input error
    INFRA = 3  # infrastructure error: Docker down, database unreachable
    INTERRUPTED = 130


class WfcError(Exception):
    """An error with a user message, a hint and an exit code."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, hint: str = "", *, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(WfcError):
    """Bad input: a wrong option, document, file or name (exit 2)."""

    exit_code = ExitCode.USAGE


class StepFailed(WfcError):
    """A step or check ran and failed (exit 1)."""

    exit_code = ExitCode.FAILED


class InfraError(WfcError):
    """The machine cannot do the work: Docker or the database is unreachable (exit 3)."""

    exit_code = ExitCode.INFRA


def did_you_mean(word: str, choices: list[str] | set[str] | tuple[str, ...]) -> str:
    """Return a ``did you mean 'x'?`` suffix for the closest choice, or an empty string."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
