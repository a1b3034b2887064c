"""The warm worker of a ``run-pipeline``: serves Snakemake's ``wfc run-step`` jobs in-process.

Snakemake runs every job as ``wfc run-step …``; with ``$WFC_WORKER`` set, that command sends its
command line, working directory and pipeline-run variables over a unix socket to this server
(:mod:`wfc.cli.forward`), which parses and runs it through the same
:func:`wfc.step.lifecycle.run_step` as a standalone process would, one thread per job, and answers
with the text to print and the exit code (:mod:`wfc.pipeline.job`). The pipeline therefore pays
the imports of the whole stack once, not once per step (BRIEF §6a), while lifecycle, records,
output and exit codes stay those of ``run-step``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socketserver
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfc.compile.expand import ConcreteStep
from wfc.compile.snakefile import concrete_args
from wfc.errors import WfcError
from wfc.output import to_document
from wfc.pipeline.job import answer
from wfc.project import Project
from wfc.runtime.base import OutputSink
from wfc.step.lifecycle import run_step
from wfc.step.outcome import StepOutcome
from wfc.step.resolve import Warm


@dataclass(frozen=True)
class Listener:
    """What the worker tells its pipeline run about each request.

    Attributes:
        started: ``(node, sample, variant)`` before the step's lifecycle starts.
        finished: The same, then the outcome (None when the step raised an error before
            recording: it is recorded ``cancelled`` when the pipeline completes its record).
        output: Given ``(node, sample, variant)``, a sink for the method's output, or None.
    """

    started: Callable[[str, str | None, str | None], None]
    finished: Callable[[str, str | None, str | None, StepOutcome | None], None]
    output: Callable[[str, str | None, str | None], OutputSink | None]


class Worker:
    """A unix-socket server running ``run-step`` requests for one pipeline run."""

    def __init__(
        self,
        project: Project,
        pipeline_run_id: str,
        variables: dict[str, str],
        listener: Listener,
        warm: Warm,
        force: frozenset[str] = frozenset(),
    ) -> None:
        self.project = project
        self.pipeline_run_id = pipeline_run_id
        self.variables = variables
        self.listener = listener
        self.warm = warm  # documents, methods and resolved steps, shared by this run's steps
        self.force = force  # node ids whose steps execute even on a hit
        self._dir = Path(tempfile.mkdtemp(prefix="wfc-worker-"))  # short: unix socket paths are limited
        self.path = self._dir / "socket"
        self._active: set[threading.Thread] = set()
        self._lock = threading.Lock()
        worker = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with worker._lock:
                    worker._active.add(threading.current_thread())
                try:
                    reply = worker.serve(json.loads(self.rfile.readline()))
                    with contextlib.suppress(OSError):  # the job may be gone (the pipeline was stopped)
                        self.wfile.write(json.dumps(reply).encode())
                finally:
                    with worker._lock:
                        worker._active.discard(threading.current_thread())

        self._server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        self._server.daemon_threads = True
        # a short poll: shutting the worker down waits for it (at the end of every pipeline run)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def serve(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one job (in the server's thread for it): its command line, working directory and
        environment in; ``{"stdout", "stderr", "exit_code"}`` out (:func:`wfc.pipeline.job.answer`)."""
        return answer(request["argv"], request["cwd"], request.get("env") or {}, self._run_request)

    def _run_request(self, request: dict[str, Any]) -> dict[str, Any]:
        cwd = Path(request["cwd"])
        step: dict[str, Any] = request["step"]
        outcome = self.run(
            self._project(request.get("project"), request.get("runtime"), cwd),
            **{**step, "pipeline_path": cwd / step["pipeline_path"]},
        )
        doc: dict[str, Any] = to_document(outcome)
        return doc

    def run(self, project: Project, **step: Any) -> StepOutcome:
        """Run one step of this pipeline run (``run_step``'s arguments), telling the listener."""
        where = (step["node"], step.get("sample"), step.get("variant"))
        self.listener.started(*where)
        outcome = None
        try:
            outcome = run_step(
                project,
                **{
                    **step,
                    "pipeline_run_id": step.get("pipeline_run_id") or self.pipeline_run_id,
                    "variables": {**self.variables, **(step.get("variables") or {})},
                    "force": bool(step.get("force")) or step["node"] in self.force,
                },
                output=self.listener.output(*where),
                warm=self.warm,
            )
            return outcome
        finally:
            self.listener.finished(*where, outcome)

    def run_concrete(self, step: ConcreteStep, pipeline_path: Path) -> None:
        """Run an expected step of the document that Snakemake did not run, as any step runs
        (its failure is recorded; a user error is left for the completed record to show)."""
        with contextlib.suppress(WfcError):
            self.run(self.project, pipeline_path=pipeline_path, **concrete_args(step))

    def _project(self, root: str | None, runtime: str | None, cwd: Path) -> Project:
        """This run's project (with its in-process settings), unless the request names another
        project or runtime."""
        same = root is None or (cwd / root).resolve() == self.project.root.resolve()
        if same and runtime is None:
            return self.project
        return Project.load(root, {"runtime": runtime} if runtime else {}, cwd=cwd)

    def __enter__(self) -> Worker:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            active = list(self._active)
        for thread in active:  # steps whose job was stopped end quickly once their containers are gone
            thread.join(timeout=30)
        shutil.rmtree(self._dir, ignore_errors=True)
