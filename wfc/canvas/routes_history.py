"""``/api/pipeline-runs`` and ``/api/runs/{run_id}`` (``show``, ``logs``, ``lineage``): what was
recorded, as the same documents ``wfc runs --json``, ``wfc show --json`` and ``wfc lineage
--format json`` print, and a pipeline run's ``wfc report`` page. Only reads; an unknown run or
pipeline run is 404.
"""

from __future__ import annotations

import io
import json
import queue
import threading
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from wfc import api
from wfc.canvas.deps import ProjectDep, errors
from wfc.canvas.errors import not_found
from wfc.canvas.schemas import Lineage, PipelineRunDetail, RunHistory, ShowRun
from wfc.errors import UsageError, WfcError
from wfc.lineage.db import database
from wfc.lineage.query import find_pipeline_run
from wfc.ops.lineage_view import render
from wfc.ops.report import read_report
from wfc.ops.report_html import CSP as REPORT_CSP
from wfc.ops.report_html import render as render_report
from wfc.project import Project

router = APIRouter(prefix="/api")
Stream = Literal["stdout", "stderr"]
REPORT_HEADERS = {
    "Content-Security-Policy": f"sandbox allow-scripts; {REPORT_CSP}",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@router.get("/pipeline-runs", response_model=RunHistory, responses=errors(400))
def pipeline_runs(
    proj: ProjectDep,
    pipeline: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Any:
    """The ``wfc runs --json`` document: the newest pipeline runs with their step runs."""
    return api.to_json(api.runs(proj, pipeline=pipeline, status=status, limit=limit))


@router.get("/pipeline-runs/{id}", response_model=PipelineRunDetail, responses=errors(404))
def pipeline_run(proj: ProjectDep, pipeline_run: Annotated[str, Path(alias="id")]) -> PipelineRunDetail:
    """One pipeline run with every step, and the exact document it ran (as recorded)."""
    try:
        history = api.runs(proj, pipeline_run=pipeline_run)
        with database(proj.database_url, read_only=True) as db:
            recorded = find_pipeline_run(db, pipeline_run).document
    except UsageError as exc:
        raise not_found(exc) from None
    try:
        document = json.loads(recorded)
    except ValueError:
        document = None
    return PipelineRunDetail(
        pipeline_run=history.pipeline_runs[0], document=document if isinstance(document, dict) else None
    )


@router.get("/pipeline-runs/{id}/report", response_class=HTMLResponse, include_in_schema=False)
def pipeline_run_report(proj: ProjectDep, pipeline_run: Annotated[str, Path(alias="id")]) -> HTMLResponse:
    """The ``wfc report`` page of a pipeline run, sandboxed: it runs apart from the canvas's origin."""
    try:
        page = render_report(read_report(proj, pipeline_run))
    except UsageError as exc:
        raise not_found(exc) from None
    return HTMLResponse(page, headers=REPORT_HEADERS)


@router.get("/runs/{run_id}", response_model=ShowRun, responses=errors(404))
def show_run(run_id: str, proj: ProjectDep) -> Any:
    """The ``wfc show --json`` document of a step run (an id, a unique prefix, ``last:STEP``)."""
    try:
        return api.show(proj, run_id)
    except UsageError as exc:
        raise not_found(exc) from None


@router.get(
    "/runs/{run_id}/logs",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "The log, bytes unchanged"},
        **errors(404),
    },
)
def logs(run_id: str, proj: ProjectDep, stream: Stream = "stdout", follow: bool = False) -> Response:
    """A step run's standard output (or error) as it was written; ``follow`` streams it until the
    run ends."""
    stderr = stream == "stderr"
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    if not follow:
        out = io.BytesIO()
        try:
            api.logs(proj, run_id, out, stderr=stderr)
        except UsageError as exc:
            raise not_found(exc) from None
        return Response(out.getvalue(), media_type="text/plain; charset=utf-8", headers=headers)
    try:
        api.show(proj, run_id)  # an unknown run is a 404 before the stream starts
    except UsageError as exc:
        raise not_found(exc) from None
    return StreamingResponse(
        _follow(proj, run_id, stderr), media_type="text/plain; charset=utf-8", headers=headers
    )


@router.get("/runs/{run_id}/lineage", response_model=Lineage, responses=errors(404))
def lineage(run_id: str, proj: ProjectDep, down: bool = False) -> Any:
    """The ``wfc lineage --format json`` document: ancestors down to samples (or descendants)."""
    try:
        return json.loads(render(api.lineage(proj, run_id, down=down), "json"))
    except UsageError as exc:
        raise not_found(exc) from None


class _Pipe(io.RawIOBase):
    """A binary file whose writes become chunks for a streaming response."""

    def __init__(self, chunks: queue.Queue[bytes | None]) -> None:
        self.chunks = chunks

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        if chunk:
            self.chunks.put(chunk)
        return len(chunk)


def _follow(proj: Project, run_id: str, stderr: bool) -> Iterator[bytes]:
    """The chunks of a followed log, copied on a thread by ``api.logs(follow=True)``."""
    chunks: queue.Queue[bytes | None] = queue.Queue()

    def copy() -> None:
        try:
            api.logs(proj, run_id, _Pipe(chunks), stderr=stderr, follow=True)  # type: ignore[arg-type]
        except WfcError as exc:
            chunks.put(f"\n[wfc: {exc.message}]\n".encode())
        finally:
            chunks.put(None)

    threading.Thread(target=copy, name=f"wfc-canvas-logs-{run_id}", daemon=True).start()
    while (chunk := chunks.get()) is not None:
        yield chunk
