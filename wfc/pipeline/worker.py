"""The warm worker of a ``run-pipeline``: serves Snakemake's ``wfc run-step`` jobs in-process.

Snakemake runs every job as ``wfc run-step …``; with ``$WFC_WORKER`` set, that command is a thin
standard-library client (``wfc.cli.thin``) that hands its arguments to this server, which runs
them through the same :func:`wfc.step.command.invoke` as a standalone process, one thread per
job. The pipeline therefore pays the imports of the whole stack once, not once per step
(BRIEF §6a), while lifecycle, records and exit codes stay exactly those of ``run-step``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socketserver
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from wfc.step.command import Reply, invoke
from wfc.step.resolve import Warm

Listener = Callable[[str, list[str], Reply | None], None]  # ("start" | "end", argv, reply)


class Worker:
    """A unix-socket server running ``run-step`` requests for one pipeline run."""

    def __init__(
        self, pipeline_run_id: str, variables: dict[str, str], listener: Listener, warm: Warm
    ) -> None:
        self.pipeline_run_id = pipeline_run_id
        self.variables = variables
        self.listener = listener
        self.warm = warm  # documents, methods and resolved steps, shared by this run's steps
        self._dir = Path(tempfile.mkdtemp(prefix="wfc-worker-"))  # short: unix socket paths are limited
        self.path = self._dir / "socket"
        worker = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                request = json.loads(self.rfile.readline())
                reply = worker.serve(list(request["argv"]), Path(request["cwd"]))
                with contextlib.suppress(OSError):  # the job may be gone (the pipeline was stopped)
                    self.wfile.write(json.dumps(reply.__dict__).encode())

        self._server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def serve(self, argv: list[str], cwd: Path) -> Reply:
        """Run one request (in the server's thread for it) and tell the listener."""
        self.listener("start", argv, None)
        try:
            reply = invoke(
                argv, cwd, pipeline_run=self.pipeline_run_id, variables=self.variables, warm=self.warm
            )
        except Exception as exc:  # an internal error must reach the job, not kill the thread
            reply = Reply("", f"error: internal error: {type(exc).__name__}: {exc}\n", 1)
        self.listener("end", argv, reply)
        return reply

    def __enter__(self) -> Worker:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self._dir, ignore_errors=True)
