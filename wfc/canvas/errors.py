"""The canvas's error boundary: every failure is JSON ``{"error", "hint"}`` with a status code, as
the CLI's boundary prints ``error:`` and ``hint:`` lines.

Handlers raise :class:`ApiError` (or let a :class:`~wfc.errors.WfcError` through): a document
with problems is 422 with ``problems`` (the ``wfc validate --json`` problems), an unknown thing
404, Docker or the database down 503, a bad body 400. Anything else is a 500 naming the bug.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from wfc.api import to_json
from wfc.errors import InfraError, StepFailed, WfcError
from wfc.model.problem import DocumentInvalid, Problem

log = logging.getLogger("wfc.canvas")


class ApiError(Exception):
    """An HTTP error with the user's message and the next action."""

    def __init__(self, status: int, error: str, hint: str = "", problems: Sequence[Problem] | None = None):
        super().__init__(error)
        self.status = status
        self.error = error
        self.hint = hint
        self.problems = problems


def not_found(error: WfcError | str, hint: str = "") -> ApiError:
    """A 404 from a message, or from the ``UsageError`` a lookup raised."""
    if isinstance(error, WfcError):
        return ApiError(404, error.message, error.hint)
    return ApiError(404, error, hint)


def error_response(
    status: int, error: str, hint: str = "", problems: Sequence[Problem] | None = None
) -> JSONResponse:
    """The JSON body of every error."""
    body: dict[str, Any] = {"error": error, "hint": hint}
    if problems is not None:
        body["problems"] = to_json(list(problems))
    return JSONResponse(body, status_code=status)


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into JSON errors."""

    @app.exception_handler(ApiError)
    async def _api(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.hint, exc.problems)

    @app.exception_handler(DocumentInvalid)
    async def _invalid(_request: Request, exc: DocumentInvalid) -> JSONResponse:
        return error_response(422, exc.message, exc.hint or "fix the problems listed", exc.problems)

    @app.exception_handler(WfcError)
    async def _wfc(_request: Request, exc: WfcError) -> JSONResponse:
        status = 503 if isinstance(exc, InfraError) else 500 if isinstance(exc, StepFailed) else 400
        return error_response(status, exc.message, exc.hint)

    @app.exception_handler(RequestValidationError)
    async def _body(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"bad request: {where + ': ' if where else ''}{first.get('msg', 'invalid')}"
        return error_response(400, message, "see the HTTP API table in docs/canvas.md")

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        hint = "see the HTTP API table in docs/canvas.md" if exc.status_code in (404, 405) else ""
        return error_response(exc.status_code, str(exc.detail).lower(), hint)

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return error_response(
            500,
            f"internal error: {type(exc).__name__}: {exc}",
            "this is a bug in wfc: the server's log has the traceback; please report it",
        )
