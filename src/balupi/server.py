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

It also keeps slow and greedy clients from holding the Pi's connections (``ConnectionLimits``):

* a connection must send a whole request head within ``head_timeout`` of being ready for one
  (opened, or its last response done), else it is closed: Uvicorn times out only a keep-alive
  connection that sends nothing, so a head sent a byte at a time was held for ever. Bodies
  are never timed out: an upload that is still flowing may take as long as it takes;
* an idle keep-alive connection is closed after ``keep_alive`` seconds (Uvicorn's own timer);
* at most ``connection_cap()`` connections are held, below the open-files limit: one more
  closes the oldest connection still waiting for its request head, or, if every connection is
  busy with a request, itself. Uvicorn's ``limit_concurrency`` is not used: it answers 503 to
  everything over the limit, ``/api/health`` included.

What a client can repeat at will is logged at most once a minute, with a count (``Throttle``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import resource
import socket
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from balupi import zero_copy
from balupi.api.connection import DROP_EXTENSION
from balupi.logs import Throttle, get_logger

if TYPE_CHECKING:
    from balupi.config import Settings

log = get_logger(__name__)
_throttle = Throttle()

# File descriptors kept free of client connections: the database, cached and uploaded files,
# connections to the NAS and the plugs, logs. A quarter of the limit, at least this many.
MIN_SPARE_FILES = 64


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take to ask, how long an idle connection stays, how many are held."""

    head_timeout: float = 10.0
    keep_alive: float = 5.0
    max_connections: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            head_timeout=settings.head_timeout_seconds,
            keep_alive=settings.keep_alive_seconds,
            max_connections=settings.max_connections,
        )

    def connection_cap(self, open_files: int | None = None) -> int:
        """``max_connections``, lowered to leave spare descriptors below the open-files limit
        (``open_files``, else this process's soft ``RLIMIT_NOFILE``: systemd's default is 1,024;
        the unit raises it with ``LimitNOFILE``)."""
        if open_files is None:
            open_files, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
            if open_files == resource.RLIM_INFINITY:
                return self.max_connections
        spare = max(MIN_SPARE_FILES, open_files // 4)
        return max(1, min(self.max_connections, open_files - spare))


class BaluPiConfig(uvicorn.Config):
    """A ``uvicorn.Config`` that carries BaluPi's connection limits to its protocol."""

    def __init__(self, app: ASGIApp, *, limits: ConnectionLimits, **options: Any) -> None:
        super().__init__(app, **options)
        self.limits = limits
        self.connection_cap = limits.connection_cap()


# Per server: its connections that wait for a request head, oldest first (dicts keep order).
_waiting_heads: weakref.WeakKeyDictionary[ServerState, dict[BaluPiH11Protocol, None]] = (
    weakref.WeakKeyDictionary()
)


def _log_throttled(condition: str, **fields: Any) -> None:
    count = _throttle.due(condition)
    if count is not None:
        log.warning(
            condition, occurrences=count, once_per_seconds=int(_throttle.interval), **fields
        )


class BaluPiH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol whose HTTP scopes offer dropping the connection and zero-copy,
    with a request-head timeout and a connection cap."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.app = self._offer_extensions(self.app)
        if isinstance(config, BaluPiConfig):
            self._head_timeout, self._cap = config.limits.head_timeout, config.connection_cap
        else:
            limits = ConnectionLimits()
            self._head_timeout, self._cap = limits.head_timeout, limits.connection_cap()
        self._head_timer: asyncio.TimerHandle | None = None
        self._waiting = _waiting_heads.setdefault(server_state, {})

    # -- connection hygiene -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._cap and not self._make_room():
            _log_throttled("connection cap reached: refusing connections", cap=self._cap)
            self._close_now()
            return
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._head_arrived()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE:
            self._await_head()  # the next request's head; Uvicorn's keep-alive timer runs too
        else:
            self._head_arrived()  # a pipelined request was already parsed

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        """Start the head clock, and line up as the newest connection waiting for a head."""
        self._head_arrived()
        self._waiting[self] = None
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_overdue)

    def _head_arrived(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._waiting.pop(self, None)

    def _head_overdue(self) -> None:
        self._head_timer = None
        self._waiting.pop(self, None)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            _log_throttled("request heads too slow: connections closed", after=self._head_timeout)
            self._close_now()

    def _make_room(self) -> bool:
        """Close the connection that has waited longest for a request head; False if none."""
        oldest = next(iter(self._waiting), None)
        if oldest is None:
            return False
        _log_throttled("connection cap reached: closing the oldest waiting", cap=self._cap)
        oldest._close_now()
        return True

    def _close_now(self) -> None:
        """Abort the socket now, freeing its descriptor, and stop counting it at once (Uvicorn
        would only when ``connection_lost`` runs, after the whole burst was counted)."""
        self._head_arrived()
        self.connections.discard(self)
        self.transport.abort()

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


def uvicorn_config(
    app: ASGIApp, *, limits: ConnectionLimits | None = None, **options: Any
) -> uvicorn.Config:
    """A ``uvicorn.Config`` for BaluPi: its protocol and connection limits, no server header,
    logging left to us."""
    limits = limits or ConnectionLimits()
    options.setdefault("log_config", None)
    options.setdefault("server_header", False)
    options.setdefault("timeout_keep_alive", limits.keep_alive)
    return BaluPiConfig(app, limits=limits, http=BaluPiH11Protocol, **options)


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
        # Not a background task, so no TaskOwner: this task is the server itself. The caller
        # holds it, ends it with ``should_exit`` and awaits it (``running_server``); the app's own
        # owner lives inside it (its lifespan) and could not be the owner of what runs it.
        task = asyncio.create_task(self.serve(sockets=sockets), name="uvicorn_serve")
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
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    limits: ConnectionLimits | None = None,
) -> AsyncIterator[RunningServer]:
    """Serve ``app`` until the block ends; ``port=0`` picks a free port.

    The app's lifespan runs inside: it has started when the block is entered and has finished
    when the block is left. Fails if the server does not start.
    """
    server = EmbeddedServer(uvicorn_config(app, host=host, port=port, lifespan="on", limits=limits))
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
