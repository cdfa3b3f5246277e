"""Closing a client's connection without an HTTP answer, for the routes where any status is wrong.

BaluDesk wipes its stored credentials on any ``/api/auth/me`` status but 2xx or 401, and BaluApp
deletes its tokens on any HTTP error from ``/api/auth/refresh`` (docs/compat/clients.md §0.2, §6).
Where the Pi cannot decide, the only safe answer is none: both clients treat a dropped connection as
"server offline" and keep their tokens.

A route raises ``DropConnection``; ``ConnectionDropMiddleware`` turns it into a call of the
``balupi.drop_connection`` ASGI extension, which BaluPi's Uvicorn protocol puts into every HTTP
scope (``balupi.server``). The extension aborts the socket and tells Uvicorn the client is gone,
so Uvicorn sends nothing (not even its usual 500 for an app that never started a response).

The middleware must sit inside ``RequestContextMiddleware`` and Starlette's
``ServerErrorMiddleware``: both would otherwise answer the exception with a 500 first.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from balupi.logs import get_logger

DROP_EXTENSION = "balupi.drop_connection"

DropCallback = Callable[[], None]

log = get_logger(__name__)


class DropConnection(Exception):
    """Raised by a route: close the client's connection and send no HTTP answer at all."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConnectionDropMiddleware:
    """Turns ``DropConnection`` into an aborted socket, where the server offers that.

    Under a server without the extension (``httpx.ASGITransport`` in tests, a stock Uvicorn) the
    exception propagates: it must never be mistaken for an answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except DropConnection as exc:
            drop: DropCallback | None = scope.get("extensions", {}).get(DROP_EXTENSION)
            if drop is None:
                log.error(
                    "cannot drop the connection: the server lacks the drop extension "
                    "(run BaluPi with `balupi serve`)",
                    path=scope["path"],
                )
                raise
            log.info("connection dropped without an answer", path=scope["path"], reason=exc.reason)
            drop()
