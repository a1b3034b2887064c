"""Starting a real ``wfc canvas`` server for tests (the API tests and the browser tests share it).

``start_canvas(root, *args)`` runs ``wfc canvas --port 0 --no-open [args]`` in a project, reads the
one URL line it prints, and returns ``(url, token, proc)`` once the server answers; the caller stops
it by PID with :func:`stop_canvas`. :func:`canvas` is the same as a context manager.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

REPO = Path(__file__).resolve().parent.parent
URL_PREFIX = "wfc canvas: "
CHROMIUM = Path("/usr/lib/chromium/chromium")  # Debian's binary (/usr/bin/chromium is a shell wrapper)
CHROMIUM_ARGS = [  # headless on a machine without a network, GPU or user namespaces
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def start_canvas(
    project_root: Path, *extra_args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> tuple[str, str, subprocess.Popen[str]]:
    """Start ``wfc canvas --port 0 --no-open`` in ``project_root``; return its URL (with the
    token), the token and the process, once ``/`` answers."""
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    full_env = {**os.environ, "PYTHONPATH": pythonpath, "WFC_PROJECT": str(project_root), **(env or {})}
    full_env.pop("DISPLAY", None)  # belt and braces: --no-open already keeps the browser shut
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfc", "canvas", "--port", "0", "--no-open", *extra_args],
        cwd=project_root,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _url_line(proc, timeout)
        token = parse_qs(urlsplit(url).query)["token"][0]
        _wait_ready(url, token, timeout)
    except BaseException:
        stop_canvas(proc)
        raise
    return url, token, proc


def stop_canvas(proc: subprocess.Popen[Any], timeout: float = 60) -> None:
    """Stop a server by its PID: SIGTERM (it cancels its running jobs), SIGKILL if it lingers."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@contextmanager
def canvas(project_root: Path, *extra_args: str) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """:func:`start_canvas` for the length of a ``with`` block."""
    url, token, proc = start_canvas(project_root, *extra_args)
    try:
        yield url, token, proc
    finally:
        stop_canvas(proc)


def base_of(url: str) -> str:
    """``http://127.0.0.1:PORT`` of a canvas URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _url_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line.startswith(URL_PREFIX):
                return line[len(URL_PREFIX) :].strip()
            if not line and proc.poll() is not None:
                break
        elif proc.poll() is not None:
            break
    err = proc.stderr.read() if proc.stderr is not None and proc.poll() is not None else ""
    raise AssertionError(f"wfc canvas printed no URL line (exit {proc.poll()}): {err}")


def _wait_ready(url: str, token: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(base_of(url) + "/api/project", headers={"Authorization": f"Bearer {token}"})
            if answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"wfc canvas at {url} did not answer within {timeout} s")
