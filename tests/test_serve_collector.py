"""``balupi serve`` pauses the cyclic garbage collector while it starts, and only then.

The pause saves about 0.2 s of a Pi's start-up (bench/startup_memory.py); left paused, cycles
would pile up for the process's life. These tests hold the server to switching it back on.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
import uvicorn

from balupi.cli import _notifying_server
from balupi.sim.measure import free_port


async def _app(scope: dict[str, object], receive: object, send: object) -> None:
    """An ASGI app that has nothing to serve."""


@pytest.fixture
def collector_paused() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("collector_paused")
async def test_the_collector_runs_again_once_the_server_listens() -> None:
    config = uvicorn.Config(_app, host="127.0.0.1", port=free_port(), lifespan="off")
    server = _notifying_server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                assert not serving.done()
                await asyncio.sleep(0.01)
        assert gc.isenabled()
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)


def test_a_start_that_ends_early_leaves_the_collector_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from balupi import cli

    def refuse(args: object) -> int:
        assert not gc.isenabled()  # paused while starting
        return cli.EXIT_CONFIG

    monkeypatch.setattr(cli, "_serve_with_collector_paused", refuse)
    assert cli._serve(object()) == cli.EXIT_CONFIG  # type: ignore[arg-type]
    assert gc.isenabled()
