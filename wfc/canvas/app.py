"""The canvas web application: :func:`create_app` wires the routers, the security middleware, the
error handlers, the page and its bundle, the jobs and the database watch (ADR 0022).

Everything the app holds lives on ``app.state`` (``project``, ``token``, ``jobs``, ``watch``,
``closing``, ``open_path``): two apps in one process share nothing. The page is
``wfc/canvas/static/index.html`` (built from ``canvas/`` by ``npm run build``), served at ``/``
where ``?token=…`` sets the session cookie; ``/assets/*`` is the bundle. Without a built bundle
``/`` says how to build it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from wfc import __version__
from wfc.canvas import errors, routes_artifacts, routes_history, routes_pipelines, routes_project, routes_runs
from wfc.canvas.jobs import Jobs
from wfc.canvas.security import COOKIE, Guard, same, token_of
from wfc.canvas.stream import RunsWatch
from wfc.project import Project

STATIC = Path(__file__).resolve().parent / "static"
JOIN_SECONDS = 60.0  # how long shutdown waits for cancelled runs to finish their records

_MISSING = """<!doctype html><html><head><meta charset="utf-8"><title>wfc canvas</title></head>
<body><h1>wfc canvas</h1><p>The canvas page is not built: <code>wfc/canvas/static/index.html</code> is
missing. Build it with <code>cd canvas &amp;&amp; npm ci &amp;&amp; npm run build</code>. The HTTP API under
<code>/api</code> works without it (see docs/canvas.md).</p></body></html>
"""
# The page loads only its own bundle and talks only to its own server; no framing.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_REFUSED = """<!doctype html><html><head><meta charset="utf-8"><title>wfc canvas</title></head>
<body><h1>wfc canvas</h1><p>This page needs its token: open the URL that <code>wfc canvas</code>
printed (it ends in <code>?token=…</code>).</p></body></html>
"""


def create_app(
    project: Project, token: str, allowed_hosts: Iterable[str], open_path: str | None = None
) -> FastAPI:
    """The canvas application for ``project``: ``token`` guards ``/api``, ``allowed_hosts`` are
    the ``Host`` values it answers (``127.0.0.1:PORT``…), ``open_path`` the document the page
    opens first."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.watch.start()
        try:
            yield
        finally:
            app.state.closing.set()
            app.state.jobs.cancel_all()
            await asyncio.to_thread(app.state.jobs.join, JOIN_SECONDS)
            app.state.watch.stop()

    app = FastAPI(
        title="wfc canvas",
        version=__version__,
        description="The HTTP API of `wfc canvas` (docs/canvas.md). Every /api route needs the token.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
    )
    jobs = Jobs(project)
    app.state.project = project
    app.state.token = token
    app.state.open_path = open_path
    app.state.jobs = jobs
    app.state.watch = RunsWatch(project, jobs)
    app.state.closing = asyncio.Event()
    errors.install(app)
    for module in (routes_project, routes_pipelines, routes_runs, routes_history, routes_artifacts):
        app.include_router(module.router)
    app.add_api_route("/", page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/assets/{name:path}", asset, methods=["GET"], include_in_schema=False)
    app.add_middleware(Guard, token=token, hosts=list(allowed_hosts))
    return app


def page(request: Request, token: str | None = None) -> Response:
    """The canvas page: ``?token=`` sets the cookie; without the token or the cookie, 403."""
    expected = request.app.state.token
    given = token if token is not None else token_of({k.lower(): v for k, v in request.headers.items()})
    if not same(given, expected):
        return HTMLResponse(_REFUSED, status_code=403)
    index = STATIC / "index.html"
    response: Response = (
        FileResponse(index, media_type="text/html", headers=PAGE_HEADERS)
        if index.is_file()
        else HTMLResponse(_MISSING, headers=PAGE_HEADERS)
    )
    if token is not None:
        response.set_cookie(COOKIE, expected, httponly=True, samesite="strict", path="/")
    return response


def asset(name: str) -> Response:
    """A file of the built bundle (``wfc/canvas/static/assets/``), nothing outside it."""
    root = (STATIC / "assets").resolve()
    path = (root / name).resolve()
    if "\x00" in name or not path.is_relative_to(root) or not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, headers={"X-Content-Type-Options": "nosniff"})
