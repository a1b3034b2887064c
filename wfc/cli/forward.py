"""A Snakemake job's ``wfc run-step`` under ``run-pipeline``: hand the command line, as it is, to
the pipeline's warm worker (the unix socket ``$WFC_WORKER`` names), print its answer and exit with
its code (BRIEF §6a, ADR 0033).

Nothing is parsed here and only the standard library is imported: the worker parses, runs and
renders with :mod:`wfc.pipeline.job`, exactly as ``run-step`` in its own process would, so a job
costs an interpreter's start and one round trip. When no worker answers, or the command asks for
its help, the caller runs ``run-step`` in this process instead.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

WORKER_ENV = "WFC_WORKER"
PASSED_ENV = ("WFC_PIPELINE_RUN", "WFC_PIPELINE_RUN_KEY")  # what the worker reads of the job's environment
CLOSED = "the run-pipeline worker closed the connection (was the pipeline stopped?)"


def forward(argv: list[str]) -> None:
    """Exit with the worker's answer to ``argv``; return when there is no worker to answer."""
    if "--help" in argv or "-h" in argv:
        return
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(os.environ[WORKER_ENV])
    except (OSError, KeyError):
        return
    signal.signal(signal.SIGTERM, _interrupt)
    request = {
        "argv": argv,
        "cwd": os.getcwd(),
        "env": {k: os.environ[k] for k in PASSED_ENV if k in os.environ},
    }
    data = b""
    try:
        with conn:
            conn.sendall(json.dumps(request).encode() + b"\n")
            while chunk := conn.recv(65536):
                data += chunk
    except KeyboardInterrupt:
        _fail(KeyboardInterrupt(), argv)
    if not data:
        from wfc.errors import ExitCode, WfcError

        _fail(WfcError(CLOSED, exit_code=ExitCode.INTERRUPTED), argv)
    reply = json.loads(data)
    sys.stdout.write(reply["stdout"])
    sys.stderr.write(reply["stderr"])
    sys.stdout.flush()
    sys.exit(reply["exit_code"])


def _fail(exc: BaseException, argv: list[str]) -> None:
    """Report ``exc`` through the one error boundary (and exit)."""
    from wfc.cli.boundary import guarded

    def raise_it() -> int:
        raise exc

    guarded(raise_it, json_mode="--json" in argv, verbose="--verbose" in argv or "-v" in argv)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
