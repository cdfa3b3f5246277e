"""Downloads and thumbnails, answered by the SSD cache (``services/cache``).

``GET /api/files/download/{path}`` is the NAS's route; ``GET /api/files/download?path=`` is
BaluApp's "download selected", which the NAS answers 405 (docs/compat/clients.md §4 A1): the Pi
serves both. A cached file goes out as Starlette's ``FileResponse`` (Range, multiple ranges,
If-Range, 416, the NAS's ETag and Last-Modified, Content-Disposition from the file name, as the
NAS's own ``FileResponse`` answers); a miss streams while it fills the cache. ``X-BaluPi-Cache``
says which (``hit``, ``miss``, ``pass``: from the NAS uncached, ``local``: a pending upload).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from balupi.api.deps import CacheDep, CurrentUser, ThumbnailsDep
from balupi.services.cache import Delivery, FileCache, FileDelivery, StreamDelivery
from balupi.zero_copy import ZERO_COPY_SEND

router = APIRouter(tags=["files"])

SOURCE_HEADER = "x-balupi-cache"


_SOURCE_DOC = {
    SOURCE_HEADER: {"description": "hit, miss, pass or local", "schema": {"type": "string"}}
}
_FILE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes (Range: 206 with the ranges asked for)",
        "content": {"application/octet-stream": {}},
        "headers": _SOURCE_DOC,
    },
    206: {"description": "The ranges asked for", "content": {"application/octet-stream": {}}},
}
_THUMBNAIL_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "A JPEG", "content": {"image/jpeg": {}}}
}


class DeliveredFile(FileResponse):
    """A file from the Pi's disk; counts the bytes it sends and releases the file when done.

    Starlette sends a whole file by ``http.response.pathsend`` (zero-copy), which BaluPi's
    server offers (``balupi.zero_copy``); ranges, and servers without it, get pieces of the
    size the cache chose for the number of files being read at once.
    """

    def __init__(self, delivery: FileDelivery) -> None:
        super().__init__(
            delivery.file,
            headers=delivery.headers,
            filename=delivery.filename,
            stat_result=delivery.stat,
        )
        self.headers[SOURCE_HEADER] = delivery.source
        self.chunk_size = delivery.chunk_size
        self._delivery = delivery

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        delivery = self._delivery

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.body":
                delivery.count(len(message.get("body", b"")))
            elif message["type"] == "http.response.pathsend":
                delivery.count(delivery.stat.st_size)
            await send(message)

        try:
            await super().__call__(scope, receive, counting)
        finally:
            delivery.release()


class DeliveredStream(StreamingResponse):
    """Bytes from the NAS with the NAS's status and headers; the NAS side closes with it.

    A miss goes out as spans of its temp file by ``http.response.zerocopysend`` where the server
    offers it (``balupi.zero_copy``), else as the bytes read from that file.
    """

    def __init__(self, delivery: StreamDelivery) -> None:
        super().__init__(delivery.body, status_code=delivery.status)
        headers = {**delivery.headers, SOURCE_HEADER: delivery.source}
        self.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self._delivery = delivery
        self._zero_copy = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._zero_copy = ZERO_COPY_SEND in scope.get("extensions", {})
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._delivery.close()

    async def stream_response(self, send: Send) -> None:
        spans = self._delivery.zero_copy
        if not self._zero_copy or spans is None:
            await super().stream_response(send)
            return
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        body = spans()
        try:
            async for span in body:
                await send(
                    {
                        "type": ZERO_COPY_SEND,
                        "file": span.file,
                        "offset": span.offset,
                        "count": span.count,
                        "more_body": True,
                    }
                )
        finally:
            await body.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def respond(delivery: Delivery) -> Response:
    if isinstance(delivery, FileDelivery):
        return DeliveredFile(delivery)
    return DeliveredStream(delivery)


async def _download(request: Request, user: CurrentUser, cache: FileCache, path: str) -> Response:
    delivery = await cache.download(
        user,
        path,
        byte_range=request.headers.get("range"),
        if_range=request.headers.get("if-range"),
        sync_trigger=request.headers.get("x-sync-trigger"),
    )
    return respond(delivery)


@router.get("/api/files/download/{path:path}", response_class=Response, responses=_FILE_DOC)
async def download(path: str, request: Request, user: CurrentUser, cache: CacheDep) -> Response:
    return await _download(request, user, cache, path)


@router.get("/api/files/download", response_class=Response, responses=_FILE_DOC)
async def download_by_query(
    request: Request, user: CurrentUser, cache: CacheDep, path: str = ""
) -> Response:
    return await _download(request, user, cache, path)


@router.get("/api/files/thumbnail/{path:path}", response_class=Response, responses=_THUMBNAIL_DOC)
async def thumbnail(
    path: str,
    user: CurrentUser,
    thumbnails: ThumbnailsDep,
    size: Annotated[int | None, Query(ge=1, le=4096)] = None,
) -> Response:
    """A JPEG at most ``size`` pixels on its longer edge (rounded up to 64/128/256/512/1024)."""
    file = await thumbnails.thumbnail(user, path, size)
    return FileResponse(file, media_type="image/jpeg")
