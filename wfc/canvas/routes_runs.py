"""``/api/runs`` (start a pipeline run), ``/api/jobs`` (what this server runs, cancelling) and
``/api/events`` (the live event stream).

A run is refused before anything starts when its document has errors (422, the problems of
``wfc validate``) or ``force`` names no method node (400); otherwise it starts on a thread
(:mod:`wfc.canvas.jobs`) and the answer is 202 with the job id: progress comes as events.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from wfc import api
from wfc.canvas.deps import JobsDep, ProjectDep, errors
from wfc.canvas.errors import ApiError
from wfc.canvas.jobs import Job
from wfc.canvas.paths import existing_document
from wfc.canvas.routes_pipelines import check
from wfc.canvas.schemas import Cancelled, JobEvents, JobInfo, Jobs, RunBody, Started
from wfc.canvas.stream import event_stream
from wfc.errors import did_you_mean

router = APIRouter(prefix="/api")


@router.post("/runs", response_model=Started, status_code=202, responses=errors(400, 404, 422))
def start_run(body: RunBody, proj: ProjectDep, jobs: JobsDep) -> Started:
    """Run a pipeline in the background: ``document`` (what the editor holds; ``path`` then only
    names it) or the saved document at ``path``."""
    if body.document is not None:
        document: api.Document = body.document
        name = str(body.document.get("name") or "pipeline")
        check(proj, document, body.variables, f"<{name}>")
    elif body.path is not None:
        document = existing_document(proj, body.path)
        check(proj, document, body.variables, body.path)
        name = str(json.loads(document.read_bytes())["name"])
    else:
        raise ApiError(400, "bad request: give 'document' or 'path'", "send the document to run")
    nodes = api.method_nodes(proj, document)
    force = nodes if body.force_all else body.force
    for node in force:
        if node not in nodes:
            raise ApiError(
                400,
                f"force: no method node '{node}'{did_you_mean(node, nodes)}",
                "method nodes: " + ", ".join(nodes),
            )
    job = jobs.start_run(
        document,
        name=name,
        document_path=body.path,
        cores=body.cores,
        keep_going=body.keep_going,
        variables=body.variables,
        force=list(force),
    )
    return Started(job=job.id, pipeline_run=None)


@router.get("/jobs", response_model=Jobs, responses=errors(), name="jobs")
def jobs_route(jobs: JobsDep) -> Jobs:
    """Every job this server started, newest first."""
    return Jobs(jobs=[JobInfo(**j.info()) for j in jobs.all()])


@router.post("/jobs/{job}/cancel", response_model=Cancelled, responses=errors(404))
def cancel_job(job: str, jobs: JobsDep) -> Cancelled:
    """Cancel a job: a run stops as on Ctrl-C (containers removed, every step recorded)."""
    found = _job(jobs, job)
    jobs.cancel(found)
    return Cancelled(job=found.id, cancelled=True)


@router.get("/jobs/{job}/events", response_model=JobEvents, responses=errors(404))
def job_events(job: str, jobs: JobsDep, since: Annotated[int, Query(ge=0)] = 0) -> JobEvents:
    """The events of a job after sequence number ``since``, and where to continue (``next``)."""
    found = _job(jobs, job)
    events = jobs.events.since(since, job=found.id)
    return JobEvents(
        job=found.id, status=found.status, events=events, next=int(events[-1]["seq"]) if events else since
    )


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}, **errors()},
)
def events(
    request: Request,
    jobs: JobsDep,
    since: Annotated[int | None, Query(ge=0)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: ``event: batch`` (a JSON list of events, ``id:`` its last ``seq``) and
    ``event: runs`` (pipeline runs changed in the database by someone else). ``Last-Event-ID`` or
    ``?since=N`` replays the events after N first; without either, only new events come."""
    start = since
    if start is None and last_event_id is not None and last_event_id.isdigit():
        start = int(last_event_id)
    if start is None:
        start = jobs.events.last
    stream = event_stream(jobs, request.app.state.watch, start, request.app.state.closing)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def _job(jobs: JobsDep, job_id: str) -> Job:
    found = jobs.get(job_id)
    if found is None:
        raise ApiError(404, f"no job '{job_id}'", "list this server's jobs with GET /api/jobs")
    return found
