"""Who may talk to the canvas: a per-start token, and Host and Origin checks (ADR 0022).

The server listens on loopback, but any web page the user visits could still send requests to
it, and a DNS-rebinding page could even read the answers. So, for every request:

- ``Host`` must be one of the server's own names (``127.0.0.1:PORT``, ``localhost:PORT``,
  ``[::1]:PORT``, or the ``--host`` given): a rebinding page's requests carry its own host name;
- ``Origin``, when present, must be ``http://`` + one of those hosts: a cross-site request is
  refused before it does anything;
- ``/api/*`` needs the token, from the ``wfc_canvas`` cookie (HttpOnly, SameSite=Strict) that
  ``GET /?token=…`` sets, or from ``Authorization: Bearer …``.

A refusal is 403 with the JSON ``{"error", "hint"}`` of every canvas error. This is a pure ASGI
middleware (not ``BaseHTTPMiddleware``), so event streams pass through unbuffered.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "wfc_canvas"
OPEN_PATHS = ("/assets/",)  # the public bundle: no token needed


def new_token() -> str:
    """A fresh token for one start of the server."""
    return secrets.token_urlsafe(24)


def loopback_hosts(host: str, port: int) -> list[str]:
    """The ``Host`` values the server answers to: its loopback names and the host it listens on."""
    names = ["127.0.0.1", "localhost", "[::1]"]
    bracketed = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if bracketed not in names and host not in ("0.0.0.0", "::"):
        names.append(bracketed)
    return [f"{name}:{port}" for name in names]


def token_of(headers: dict[str, str]) -> str | None:
    """The token a request carries: ``Authorization: Bearer``, else the cookie."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no token
        return None
    morsel = cookie.get(COOKIE)
    return morsel.value if morsel is not None else None


def same(given: str | None, token: str) -> bool:
    """Whether ``given`` is the token (in constant time)."""
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


class Guard:
    """The middleware: Host, Origin, and the token on ``/api/*``."""

    def __init__(self, app: ASGIApp, *, token: str, hosts: Iterable[str]) -> None:
        self.app = app
        self.token = token
        self.hosts = {h.lower() for h in hosts}
        self.origins = {f"http://{h}" for h in self.hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan; the canvas has no websockets
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self.refusal(scope["path"], headers)
        if refusal is not None:
            await _forbid(send, *refusal)
            return
        await self.app(scope, receive, send)

    def refusal(self, path: str, headers: dict[str, str]) -> tuple[str, str] | None:
        """Why a request is refused (message, hint), or None to let it through."""
        host = headers.get("host", "").lower()
        if host not in self.hosts:
            return (
                f"refused: unknown Host '{host}'",
                "open the canvas at the URL `wfc canvas` printed (http://127.0.0.1:PORT/…)",
            )
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in self.origins:
            return (
                f"refused: a request from another site ({origin})",
                "only the canvas page itself may call its API",
            )
        if (path.startswith("/api/") or path == "/api") and not same(token_of(headers), self.token):
            return (
                "missing or wrong token",
                "open the URL `wfc canvas` printed (with ?token=…), or send Authorization: Bearer TOKEN",
            )
        return None


async def _forbid(send: Send, error: str, hint: str) -> None:
    body = json.dumps({"error": error, "hint": hint}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": 403,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
