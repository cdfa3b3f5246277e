"""Running BaluPi under Uvicorn: the protocol it needs, and an embedded server for loop-sharers.

``uvicorn_config`` is the one way BaluPi's app is configured for Uvicorn (``balupi serve``, the
demo, tests), so every server speaks ``BaluPiH11Protocol``: Uvicorn's h11 protocol plus three
ASGI extensions in every HTTP scope.

* ``balupi.drop_connection`` (``balupi.api.connection``). Stock Uvicorn offers no way for an app
  to close a connection without an answer: an app that raises before starting a response gets a
  500, and one that returns without a response gets a 500 too. The extension aborts the socket
  and marks the request's cycle as disconnected, the state in which Uvicorn sends nothing more
  and logs nothing.
* ``http.response.pathsend`` and ``http.response.zerocopysend`` (``balupi.zero_copy``): file
  bodies go from the page cache to the socket by ``sendfile``, without passing through Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, cast

import uvicorn
from starlette.types import ASGIApp
from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from balupi import zero_copy
from balupi.api.connection import DROP_EXTENSION


class BaluPiH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol whose HTTP scopes offer dropping the connection and zero-copy."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.app = self._offer_extensions(self.app)

    def _offer_extensions(self, app: ASGI3Application) -> ASGI3Application:
        async def app_with_extensions(
            scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
        ) -> None:
            if scope["type"] == "http":
                extensions = cast(dict[str, object], scope.setdefault("extensions", {}))
                extensions[DROP_EXTENSION] = functools.partial(self._drop, scope)
                if zero_copy.supported(self.loop):
                    zero_copy.offer(extensions)
                    send = functools.partial(zero_copy.send, self, scope, send)
            await app(scope, receive, send)

        return app_with_extensions

    def _drop(self, scope: Scope) -> None:
        """Abort the socket; if ``scope``'s response has not started, Uvicorn sends nothing."""
        cycle = self.cycle
        if cycle is not None and cycle.scope is scope:
            # Uvicorn's send() is a no-op for a disconnected cycle, and run_asgi neither answers
            # 500 nor logs "returned without starting response" for one.
            cycle.disconnected = True
        self.transport.abort()


def uvicorn_config(app: ASGIApp, **options: Any) -> uvicorn.Config:
    """A ``uvicorn.Config`` for BaluPi: its protocol, no server header, logging left to us."""
    options.setdefault("log_config", None)
    options.setdefault("server_header", False)
    return uvicorn.Config(app, http=BaluPiH11Protocol, **options)


class EmbeddedServer(uvicorn.Server):
    """A Uvicorn server that leaves signal handling to its host (a CLI, pytest, the demo, an
    emulator): Uvicorn would otherwise take over SIGINT/SIGTERM of the whole process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def start(self, sockets: list[socket.socket] | None = None) -> asyncio.Task[None]:
        """Serve in a task; returns it once connections are accepted, or raises what stopped
        the server during start-up (``RuntimeError`` for Uvicorn's own exit on a failed
        lifespan or bind)."""
        task = asyncio.create_task(self.serve(sockets=sockets))
        while not self.started:
            if task.done():
                try:
                    task.result()
                except SystemExit as exc:  # Uvicorn exits this way when start-up fails
                    raise RuntimeError("the server failed to start") from exc
                raise RuntimeError("the server stopped before it started")
            await asyncio.sleep(0.005)
        return task


@dataclass(frozen=True)
class RunningServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextlib.asynccontextmanager
async def running_server(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningServer]:
    """Serve ``app`` until the block ends; ``port=0`` picks a free port.

    The app's lifespan runs inside: it has started when the block is entered and has finished
    when the block is left. Fails if the server does not start.
    """
    server = EmbeddedServer(uvicorn_config(app, host=host, port=port, lifespan="on"))
    try:
        task = await server.start()
    except RuntimeError as exc:
        raise RuntimeError(f"server failed to start on {host}:{port}") from exc
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield RunningServer(host=host, port=int(bound[1]))
    finally:
        server.should_exit = True
        await task
