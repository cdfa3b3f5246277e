"""BaluPi's server sends file bodies by ``sendfile``: ``pathsend`` and ``zerocopysend``.

Each test runs a small ASGI app under ``running_server`` (BaluPi's own Uvicorn protocol) and
reads it with a real HTTP client over loopback.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import FileResponse
from starlette.types import Receive, Scope, Send

from balupi import zero_copy
from balupi.server import running_server
from balupi.zero_copy import PATH_SEND, ZERO_COPY_SEND
from tests.waiting import eventually

MiB = 1024 * 1024


def pattern(size: int) -> bytes:
    block = hashlib.sha256(b"zero-copy").digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    target = tmp_path / "big.bin"
    target.write_bytes(pattern(8 * MiB + 123))
    return target


async def lifespan(receive: Receive, send: Send) -> None:
    """The lifespan protocol for these bare apps (``running_server`` runs one)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def spans_app(
    path: Path, spans: list[tuple[int, int]], *, length: bool = True
) -> Callable[[Scope, Receive, Send], Any]:
    """Answers every request with ``spans`` of ``path``, by zerocopysend, and notes what it
    was offered and how the request ended."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        app.offered = set(scope.get("extensions", {}))  # type: ignore[attr-defined]
        total = sum(count for _, count in spans)
        headers = [(b"content-length", str(total).encode())] if length else []
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        with path.open("rb") as file:
            for index, (offset, count) in enumerate(spans):
                await send(
                    {
                        "type": ZERO_COPY_SEND,
                        "file": file,
                        "offset": offset,
                        "count": count,
                        "more_body": index < len(spans) - 1,
                    }
                )
        app.finished = True  # type: ignore[attr-defined]

    return app


async def test_both_extensions_are_offered(big_file: Path) -> None:
    app = spans_app(big_file, [(0, 10)])
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        await client.get("/")

    assert {PATH_SEND, ZERO_COPY_SEND} <= app.offered  # type: ignore[attr-defined]


async def test_spans_arrive_in_order_and_the_connection_is_reused(big_file: Path) -> None:
    data = big_file.read_bytes()
    spans = [(0, 1000), (1000, 3 * MiB), (5 * MiB, 2 * MiB + 123)]
    expected = b"".join(data[offset : offset + count] for offset, count in spans)
    app = spans_app(big_file, spans)
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        first = await client.get("/")
        second = await client.get("/")  # the same keep-alive connection: framing stayed right

    assert first.content == expected
    assert second.content == expected
    assert first.headers["content-length"] == str(len(expected))


async def test_a_body_without_length_is_chunked_around_the_spans(big_file: Path) -> None:
    data = big_file.read_bytes()
    app = spans_app(big_file, [(10, 70_000), (0, 5)], length=False)
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/")

    assert response.headers["transfer-encoding"] == "chunked"
    assert response.content == data[10:70_010] + data[:5]


async def test_file_response_goes_out_by_pathsend_with_ranges_still_served(
    big_file: Path,
) -> None:
    sent: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return

        async def noting(message: Any) -> None:
            sent.append(message["type"])
            await send(message)

        await FileResponse(big_file)(scope, receive, noting)

    data = big_file.read_bytes()
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        whole = await client.get("/")
        part = await client.get("/", headers={"Range": "bytes=100-199"})
        head = await client.head("/")

    assert whole.content == data
    assert PATH_SEND in sent
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(data))


async def test_a_file_shorter_than_promised_breaks_the_body_off(big_file: Path) -> None:
    size = big_file.stat().st_size
    app = spans_app(big_file, [(size - 100, 200)])  # 100 bytes past the end
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/")


async def test_a_client_that_leaves_mid_body_does_not_hurt_the_server(tmp_path: Path) -> None:
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as handle:
        handle.truncate(256 * MiB)  # sparse: no disk used, but far more than socket buffers
    app = spans_app(huge, [(0, 256 * MiB)])
    async with running_server(app) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        await reader.readexactly(64 * 1024)  # the body is flowing…
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.close()  # …and the client resets the connection

        # the app ran to its end: no exception escaped the send
        await eventually(lambda: getattr(app, "finished", False), 5)
        async with httpx.AsyncClient(base_url=server.url) as client:
            still = await client.head("/")  # and the server goes on serving

    assert still.status_code == 200
    assert still.headers["content-length"] == str(256 * MiB)


def test_offered_only_on_loops_with_sendfile() -> None:
    class ForeignLoop(asyncio.AbstractEventLoop):  # as uvloop's: not asyncio's BaseEventLoop
        pass

    loop = asyncio.new_event_loop()
    try:
        assert zero_copy.supported(loop)
    finally:
        loop.close()
    assert not zero_copy.supported(ForeignLoop())
