"""Running an ASGI app under Uvicorn inside an existing event loop (demo, tests, benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp


class _EmbeddedServer(uvicorn.Server):
    """A Uvicorn server that leaves signal handling to its host (a CLI, pytest, the demo)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


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
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, lifespan="on", server_header=False
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            try:
                task.result()
            except SystemExit as exc:  # Uvicorn exits this way when the lifespan fails
                raise RuntimeError(f"server failed to start on {host}:{port}") from exc
            raise RuntimeError(f"server stopped before it started on {host}:{port}")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield RunningServer(host=host, port=int(bound[1]))
    finally:
        server.should_exit = True
        await task
