"""An ASGI app served by uvicorn on one host:port that can be stopped and started again.

The emulators need a listening socket that really closes (so clients get "connection refused", as
from a sleeping machine) and reopens on the *same* port moments later. Each ``start`` binds a fresh
socket with ``SO_REUSEADDR`` on the port the first bind got (port 0 picks one) and hands it to a
new ``uvicorn.Server``; ``stop`` lets uvicorn close it and at once binds a fresh socket *without
listening* on it: connections are refused (the kernel answers RST), yet no other program can take
the port while the machine sleeps. Signals are left to the caller: uvicorn would otherwise take over
SIGINT/SIGTERM of the whole process for each server it runs.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from starlette.types import ASGIApp

from balupi.server import EmbeddedServer


class AsgiServer:
    """One restartable HTTP listener for ``app`` on ``host:port``."""

    def __init__(
        self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, shutdown_grace: int = 1
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._shutdown_grace = shutdown_grace
        self._server: EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._reserved: socket.socket | None = None  # bound, not listening

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def listening(self) -> bool:
        return self._server is not None

    def reserve(self) -> None:
        """Bind the port without listening, so ``port`` and ``url`` are known and kept."""
        if self._reserved is None and self._server is None:
            self._reserved = self._bind()

    async def start(self) -> None:
        """Listen and serve; returns once connections are accepted. No-op if already listening."""
        if self._server is not None:
            return
        self.reserve()
        sock, self._reserved = self._reserved, None
        assert sock is not None
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=self._shutdown_grace,
        )
        server = EmbeddedServer(config)
        try:
            task = await server.start(sockets=[sock])
        except BaseException:
            sock.close()
            raise
        self._server, self._task = server, task

    async def stop(self) -> None:
        """Stop listening (connections are refused from now on) but keep the port reserved.

        Requests in progress may finish within the grace period; later ones are cancelled.
        """
        server, task = self._server, self._task
        if server is None or task is None:
            return
        self._server = self._task = None
        server.should_exit = True
        await task
        self.reserve()

    async def close(self) -> None:
        """Stop serving and give the port back."""
        await self.stop()
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only then;
        # without it every small answer waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            # Rebinding right after a stop must work although old connections sit in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        return sock
