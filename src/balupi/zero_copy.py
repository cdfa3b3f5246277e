"""Zero-copy file bodies for Uvicorn's h11 protocol: the ASGI ``pathsend`` and ``zerocopysend``.

Stock Uvicorn sends every body byte through Python: read from the file in a worker thread,
handed to h11, written to the socket. On a Pi that costs more CPU than the USB disk's bandwidth
leaves room for. The two ASGI extensions let an app name the bytes instead of carrying them:

* ``http.response.pathsend`` (``{"path": …}``): the whole file; Starlette's ``FileResponse``
  uses it by itself for a full-file answer when the scope offers it;
* ``http.response.zerocopysend`` (``{"file": …, "offset": …, "count": …, "more_body": …}``):
  a span of an open file; the cache's miss path sends a growing temp file this way.

Both go out by ``loop.sendfile`` (``os.sendfile`` under the default asyncio loop). h11 still
frames the body: it is given a placeholder as long as the span (``send_with_data_passthrough``
hands that exact object back), so its ``Content-Length`` bookkeeping stays right and the
keep-alive connection can carry the next request. A client that leaves during a span aborts the
connection, which Uvicorn then treats as any other disconnect.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, BinaryIO, cast

import h11
from uvicorn._types import ASGISendCallable, ASGISendEvent, Scope
from uvicorn.protocols.http.h11_impl import H11Protocol

from balupi.logs import get_logger

PATH_SEND = "http.response.pathsend"
ZERO_COPY_SEND = "http.response.zerocopysend"

log = get_logger(__name__)


class SpanLength:
    """What h11 sees of a span: its length. The bytes never enter Python."""

    def __init__(self, length: int) -> None:
        self._length = length

    def __len__(self) -> int:
        return self._length


def supported(loop: asyncio.AbstractEventLoop) -> bool:
    """asyncio's own loops have ``loop.sendfile``; others (uvloop) may not: no offer there."""
    return isinstance(loop, asyncio.BaseEventLoop)


def offer(extensions: dict[str, object]) -> None:
    extensions[PATH_SEND] = {}
    extensions[ZERO_COPY_SEND] = {}


async def send(
    protocol: H11Protocol, scope: Scope, send: ASGISendCallable, message: ASGISendEvent
) -> None:
    """Uvicorn's ``send`` for ``scope``, plus the two zero-copy messages."""
    kind = message["type"]
    if kind == PATH_SEND:
        fields = cast(dict[str, Any], message)
        # Opening can wait on a slow disk: off the loop, as Starlette opens files.
        whole = await asyncio.to_thread(open, fields["path"], "rb")
        with whole:
            size = os.fstat(whole.fileno()).st_size
            await _send_span(protocol, scope, whole, 0, size)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif kind == ZERO_COPY_SEND:
        fields = cast(dict[str, Any], message)
        file: BinaryIO = fields["file"]
        offset = fields.get("offset")
        offset = file.tell() if offset is None else int(offset)
        count = fields.get("count")
        count = os.fstat(file.fileno()).st_size - offset if count is None else int(count)
        await _send_span(protocol, scope, file, offset, count)
        if not fields.get("more_body", False):
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    else:
        await send(message)


async def _send_span(
    protocol: H11Protocol, scope: Scope, file: BinaryIO, offset: int, count: int
) -> None:
    cycle = protocol.cycle
    if cycle is None or cycle.scope is not scope or cycle.disconnected:
        return  # as Uvicorn's own send: once the client is gone, sending is a no-op
    if not cycle.response_started or cycle.response_complete:
        raise RuntimeError("a zero-copy body outside a response's body")
    if count <= 0 or scope["method"] == "HEAD":
        return
    if cycle.flow.write_paused:
        await cycle.flow.drain()
    span = SpanLength(count)
    pieces: list[object] = list(
        protocol.conn.send_with_data_passthrough(h11.Data(data=cast(bytes, span))) or ()
    )
    for piece in pieces:
        if piece is not span:  # chunked framing around the span
            assert isinstance(piece, bytes | bytearray)
            protocol.transport.write(piece)
            continue
        sent = await _sendfile(protocol, file, offset, count)
        if sent < count:  # the client left, or the file is shorter than promised
            protocol.transport.abort()
            return


async def _sendfile(protocol: H11Protocol, file: BinaryIO, offset: int, count: int) -> int:
    transport = cast(asyncio.WriteTransport, protocol.transport)
    if transport.is_closing():
        return 0
    try:
        return await protocol.loop.sendfile(transport, file, offset, count)
    except (ConnectionError, OSError) as exc:
        log.debug("client left during a zero-copy body", error=str(exc))
        return 0
