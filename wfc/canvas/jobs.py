"""Background work of the canvas: pipeline runs and environment builds, each a job on its own thread
in the server's process, each event numbered and kept so a reloaded page can catch up (ADR 0022).

A run job calls :func:`wfc.api.run_pipeline` with ``on_event`` and a cancel token, exactly as
``wfc run-pipeline`` does; cancelling a job sets the token, which stops the run as Ctrl-C does
(containers removed, every step recorded ``cancelled``). Every event is stored in one
:class:`EventLog` with a server-wide sequence number ``seq`` and its ``job``; the event stream
(``wfc.canvas.stream``) reads from there. The database stays the record of truth: a job only
remembers what its events said.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from wfc import api
from wfc.errors import WfcError
from wfc.model.status import Status
from wfc.pipeline.events import PipelineStarted, RunEvent
from wfc.project import Project

log = logging.getLogger("wfc.canvas")

JobStatus = Literal["running", "completed", "failed", "cancelled"]
MAX_LOG_LINES = 20_000  # step-log events kept per job; later lines are in the run's log files
_FINAL: dict[Status, JobStatus] = {Status.COMPLETED: "completed", Status.CANCELLED: "cancelled"}


@dataclass
class Job:
    """One piece of background work and what its events said about it."""

    id: str
    kind: Literal["run", "env-build"]
    pipeline: str  # the pipeline's name, or the environment's
    document_path: str | None = None
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    status: JobStatus = "running"
    pipeline_run: str | None = None
    error: str | None = None
    hint: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    log_lines: int = 0

    def info(self) -> dict[str, Any]:
        """The job as ``GET /api/jobs`` lists it."""
        keys = ("kind", "document_path", "pipeline", "pipeline_run", "status", "started_at", "error", "hint")
        return {"job": self.id, **{k: getattr(self, k) for k in keys}}


class EventLog:
    """Every event of this server's jobs, in order, numbered from 1; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []

    def append(self, job: str, event: Mapping[str, Any]) -> int:
        """Store an event of ``job``; return its sequence number."""
        with self._lock:
            seq = len(self._events) + 1
            self._events.append({**event, "job": job, "seq": seq})
            return seq

    def since(self, seq: int, job: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The events after ``seq`` (of ``job`` only, when given), at most ``limit``."""
        with self._lock:
            tail = self._events[max(seq, 0) :]
        found = [e for e in tail if job is None or e["job"] == job]
        return found if limit is None else found[:limit]

    @property
    def last(self) -> int:
        """The sequence number of the newest event (0 when none)."""
        with self._lock:
            return len(self._events)


class Jobs:
    """The jobs this server started; lives on ``app.state.jobs``."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.events = EventLog()
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # -- reading ------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        """A job by id."""
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        """Every job, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: int(j.id.rsplit("-", 1)[1]), reverse=True)

    def own_pipeline_runs(self) -> set[str]:
        """The pipeline runs this server's jobs made."""
        return {j.pipeline_run for j in self.all() if j.pipeline_run}

    # -- starting -----------------------------------------------------------------------------
    def start_run(
        self,
        document: api.Document,
        *,
        name: str,
        document_path: str | None,
        cores: int,
        keep_going: bool,
        variables: Mapping[str, str],
        force: list[str],
    ) -> Job:
        """Start ``api.run_pipeline`` on a thread; the document was validated by the caller."""
        job = self._new("run", name, document_path)

        def work() -> JobStatus:
            outcome = api.run_pipeline(
                self.project,
                document,
                cores=cores,
                keep_going=keep_going,
                variables=variables,
                force=force,
                on_event=lambda event: self._on_run_event(job, event),
                cancel=job.cancel,
                logs=True,
            )
            return _FINAL.get(outcome.status, "failed")

        self._launch(job, work)
        return job

    def start_build(self, env: str) -> Job:
        """Build an environment on a thread, its build output as ``env-build-log`` events."""
        from wfc.environments.build import build_environment

        job = self._new("env-build", env, None)

        def log_line(line: str) -> None:
            self.events.append(job.id, {"kind": "env-build-log", "env": env, "line": line})

        def work() -> JobStatus:
            self.events.append(job.id, {"kind": "env-build-started", "env": env})
            try:
                lock = build_environment(
                    self.project,
                    env,
                    echo=False,
                    on_line=log_line,
                )
            except WfcError as exc:
                done = {"kind": "env-build-finished", "env": env, "ok": False}
                self.events.append(job.id, {**done, "error": exc.message, "hint": exc.hint})
                raise
            finished = {"kind": "env-build-finished", "env": env, "ok": True, "image_id": lock.image_id}
            self.events.append(job.id, finished)
            return "completed"

        self._launch(job, work)
        return job

    def cancel(self, job: Job) -> None:
        """Ask a job to stop (a run stops as on Ctrl-C; a build runs to its end)."""
        job.cancel.set()

    def cancel_all(self) -> None:
        """Ask every running job to stop (the server is shutting down)."""
        for job in self.all():
            if job.status == "running":
                job.cancel.set()

    def join(self, timeout: float) -> None:
        """Wait for the jobs' threads to end (at most ``timeout`` seconds each)."""
        for job in self.all():
            if job.thread is not None:
                job.thread.join(timeout)

    # -- inside ---------------------------------------------------------------------------------
    def _new(self, kind: Literal["run", "env-build"], name: str, document_path: str | None) -> Job:
        job = Job(f"j-{next(self._ids)}", kind, name, document_path)
        with self._lock:
            self._jobs[job.id] = job
        return job

    def _launch(self, job: Job, work: Callable[[], JobStatus]) -> None:
        def body() -> None:
            try:
                job.status = work()
            except WfcError as exc:
                job.status, job.error, job.hint = "failed", exc.message, exc.hint
            except KeyboardInterrupt:
                job.status = "cancelled"
            except Exception as exc:  # a bug: the job fails, the server goes on
                log.exception("job %s failed", job.id)
                job.status = "failed"
                job.error = f"internal error: {type(exc).__name__}: {exc}"
                job.hint = "this is a bug in wfc: the server's log has the traceback; please report it"
            if job.status == "failed" and job.cancel.is_set() and job.error is None:
                job.status = "cancelled"
            finished: dict[str, Any] = {"kind": "job-finished", "status": job.status}
            if job.error:
                finished |= {"error": job.error, "hint": job.hint or ""}
            self.events.append(job.id, finished)

        job.thread = threading.Thread(target=body, name=f"wfc-canvas-{job.id}", daemon=True)
        job.thread.start()

    def _on_run_event(self, job: Job, event: RunEvent) -> None:
        if isinstance(event, PipelineStarted):
            job.pipeline_run = event.pipeline_run
        doc = api.to_json(event)
        if doc["kind"] == "step-log":
            job.log_lines += 1
            if job.log_lines > MAX_LOG_LINES:
                return
        self.events.append(job.id, doc)
