"""The emulators' HTTP servers answer small keep-alive requests without Nagle's 40 ms stall.

``AsgiServer`` binds its own socket; asyncio sets ``TCP_NODELAY`` on accepted connections only
when the socket says ``IPPROTO_TCP``. Without it each answer (head and body written apart) waited
for the client's delayed ACK, so every request to an emulator took about 44 ms.
"""

from __future__ import annotations

import time

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from balupi.sim.asgi_server import AsgiServer


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def test_keep_alive_requests_are_not_delayed_by_nagle() -> None:
    server = AsgiServer(Starlette(routes=[Route("/", _ok)]))
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            await client.get("/")  # the connection is open from here on
            took = []
            for _ in range(10):
                started = time.perf_counter()
                (await client.get("/")).raise_for_status()
                took.append(time.perf_counter() - started)
    finally:
        await server.close()
    # Linux delays an ACK by at least 40 ms, so with the stall *every* request takes 40 ms or
    # more; without it the fastest of ten is a fraction of that even on a busy machine (the
    # fastest, not the median, so a load spike cannot fail the test).
    assert min(took) < 0.030
