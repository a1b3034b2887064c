"""What handlers receive from the app: the project and the jobs, kept on ``app.state`` (no global
state), as FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from wfc.canvas.jobs import Jobs
from wfc.canvas.schemas import ErrorBody
from wfc.project import Project


def _project(request: Request) -> Project:
    project: Project = request.app.state.project
    return project


def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


ProjectDep = Annotated[Project, Depends(_project)]
JobsDep = Annotated[Jobs, Depends(_jobs)]

_MEANING = {
    400: "Bad request body or parameters",
    403: "Missing or wrong token, a refused Host or Origin, or a path outside the project",
    404: "No such thing",
    422: "The document has problems (listed as `wfc validate` lists them)",
    503: "Docker or the database is unreachable",
}


def errors(*codes: int) -> dict[int | str, dict[str, object]]:
    """The error responses of a route (403 always, and 400 for a bad body or parameter), for its
    OpenAPI description: every error is an :class:`ErrorBody`."""
    found: dict[int | str, dict[str, object]] = {
        code: {"model": ErrorBody, "description": _MEANING[code]} for code in sorted({400, 403, *codes})
    }
    found["4XX"] = {"model": ErrorBody, "description": "Any other client error"}
    return found
