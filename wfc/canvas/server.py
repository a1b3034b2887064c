"""Running the canvas: bind the port, print the one URL line, open the browser, serve with uvicorn
until Ctrl-C, then cancel the running jobs as Ctrl-C cancels ``wfc run-pipeline``.

The socket is bound before the app is made, so ``--port 0`` (a free port) is known to the Host
check and to the URL. stdout carries exactly one line, ``wfc canvas: http://HOST:PORT/?token=…``
(scripts and tests parse it); everything else goes to stderr.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from types import FrameType
from typing import TextIO
from urllib.parse import quote

import uvicorn
from fastapi import FastAPI

from wfc.canvas.app import create_app
from wfc.canvas.security import loopback_hosts, new_token
from wfc.errors import UsageError
from wfc.project import Project

GRACE_SECONDS = 3  # open event streams are closed after this on shutdown


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (``port`` 0: a free one).

    Raises:
        UsageError: The port is taken or not allowed, or the host is not an address of this machine.
    """
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on host '{host}': {exc.strerror}", "use --host 127.0.0.1") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on {host} is already in use",
                "pass --port 0 to pick a free port, or another --port",
            ) from None
        if exc.errno == errno.EACCES:
            raise UsageError(
                f"not allowed to listen on port {port}", "use a port above 1023, or --port 0"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}", "use --host 127.0.0.1") from None
    sock.set_inheritable(True)
    return sock


def canvas_url(host: str, port: int, token: str, open_path: str | None) -> str:
    """The URL the server prints: the page with its token (and the document to open first)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost") else f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/?token={token}"
    return url + (f"&open={quote(open_path, safe='/')}" if open_path else "")


def exposure_warning(host: str) -> str | None:
    """The warning for listening beyond this machine's loopback (the token is still required)."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name
        loopback = False
    if loopback:
        return None
    return (
        f"warning: listening on {host}, not only on this machine's loopback: anyone who can reach it "
        "and has the token can run pipelines as you"
    )


def may_open_browser(environ: dict[str, str] | None = None) -> bool:
    """Whether a browser can be opened: never under CI, nor on Linux without a display."""
    env = dict(os.environ if environ is None else environ)
    if env.get("CI"):
        return False
    return not (sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")))


class _Server(uvicorn.Server):
    """uvicorn's server, which on Ctrl-C or SIGTERM first cancels the canvas's running jobs."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.on_exit()
        super().handle_exit(sig, frame)


def serve(
    project: Project,
    *,
    host: str = "127.0.0.1",
    port: int = 8500,
    open_path: str | None = None,
    browser: bool = True,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> None:
    """Serve the canvas for ``project`` until interrupted.

    Raises:
        UsageError: The port or host cannot be used.
    """
    out, err = out or sys.stdout, err or sys.stderr
    sock = bind(host, port)
    port = sock.getsockname()[1]
    token = new_token()
    hosts = loopback_hosts(host, port)
    app = create_app(project, token, hosts, open_path)
    url = canvas_url(host, port, token, open_path)
    warning = exposure_warning(host)
    if warning:
        err.write(warning + "\n")
    out.write(f"wfc canvas: {url}\n")
    out.flush()
    err.write(f"serving project {project.root} (Ctrl-C stops it and cancels running pipelines)\n")
    err.flush()
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
        lifespan="on",
    )
    server = _Server(config, lambda: _stopping(app))
    if browser and may_open_browser():
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled: the jobs are cancelled, the server stopped
    finally:
        sock.close()
    err.write("wfc canvas stopped\n")


def _stopping(app: FastAPI) -> None:
    """The server is asked to stop: cancel the jobs, end the event streams."""
    app.state.jobs.cancel_all()
    app.state.closing.set()
