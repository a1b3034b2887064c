"""The thin ``wfc run-step`` client used under ``wfc run-pipeline``: standard library only.

``run-pipeline`` serves steps from a warm worker in its own process (imports paid once per
pipeline, BRIEF §6a) and tells Snakemake's jobs where through ``$WFC_WORKER``. This client sends
its arguments and working directory over that unix socket, prints what the worker answers and
exits with its code. If the worker cannot be reached, it returns None and the caller runs the
step itself, so a stray ``$WFC_WORKER`` never breaks a step.
"""

from __future__ import annotations

import json
import os
import socket
import sys

WORKER_ENV = "WFC_WORKER"


def forward(argv: list[str]) -> int | None:
    """Hand ``run-step argv`` to the worker; return its exit code, or None when unreachable."""
    path = os.environ.get(WORKER_ENV)
    if not path or "-h" in argv or "--help" in argv:
        return None
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
    except OSError:
        return None
    with conn:
        conn.sendall(json.dumps({"argv": argv, "cwd": os.getcwd()}).encode() + b"\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    if not data:
        sys.stderr.write("error: the run-pipeline worker closed the connection (was the pipeline stopped?)\n")
        return 130
    reply = json.loads(data)
    sys.stdout.write(reply["stdout"])
    sys.stderr.write(reply["stderr"])
    return int(reply["code"])
