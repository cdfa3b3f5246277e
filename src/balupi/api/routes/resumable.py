"""Resumable uploads over HTTP: BaluHost's chunked trio (made persistent) and tus 1.0.

The chunked routes answer as BaluHost does (``{"upload_id", "chunk_size"}``, ``{"received_bytes"}``,
``{"path", "size"}``, ``Expected chunk 1, got 5``), plus ``GET …/{id}`` to ask for the received
offset after a drop. tus is the core protocol with the creation, creation-with-upload, checksum,
expiration and termination extensions, under ``/api/files/tus``. tus itself prescribes ``204``
for PATCH and DELETE; those routes serve tus clients only, none of BaluHost's clients calls them.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from balupi.api.deps import CurrentUser, UploadDeskDep
from balupi.api.schemas.uploads import (
    ChunkedCompletePublic,
    ChunkedInitPublic,
    ChunkedStatusPublic,
    ChunkReceivedPublic,
    MessagePublic,
)
from balupi.services.files.paths import join, normalize_path, require_storable
from balupi.services.uploads.intake import UploadDesk
from balupi.services.uploads.resumable import (
    CHUNK_SIZE_HINT,
    SessionRecord,
    UploadSessionError,
)
from balupi.services.uploads.targets import safe_filename, upload_target

router = APIRouter(prefix="/api/files", tags=["uploads"])

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,checksum,expiration,termination"
TUS_MAX_SIZE = 64 * 1024**3


# -- BaluHost's chunked trio ------------------------------------------------------------------
class ChunkedInit(BaseModel):
    filename: str
    total_size: int
    target_path: str = ""


@router.post("/upload/chunked/init")
async def chunked_init(
    body: ChunkedInit, user: CurrentUser, desk: UploadDeskDep
) -> ChunkedInitPublic:
    target = require_storable(join(normalize_path(body.target_path), safe_filename(body.filename)))
    record = await desk.open_session(user, target, body.total_size)
    return ChunkedInitPublic(upload_id=record.id, chunk_size=CHUNK_SIZE_HINT)


@router.get("/upload/chunked/{upload_id}")
async def chunked_status(
    upload_id: str, user: CurrentUser, desk: UploadDeskDep
) -> ChunkedStatusPublic:
    """Where a dropped upload stands: send chunk ``next_chunk_index`` from ``received_bytes``."""
    record = await desk.session(upload_id, user)
    return ChunkedStatusPublic.of(record, desk.expires_at(record))


@router.post("/upload/chunked/{upload_id}/chunk")
async def chunked_chunk(
    upload_id: str,
    request: Request,
    user: CurrentUser,
    desk: UploadDeskDep,
    chunk_index: int = Query(...),
) -> ChunkReceivedPublic:
    record = await desk.append_chunk(upload_id, chunk_index, request.stream(), user)
    return ChunkReceivedPublic(received_bytes=record.received)


@router.post("/upload/chunked/{upload_id}/complete")
async def chunked_complete(
    upload_id: str, user: CurrentUser, desk: UploadDeskDep
) -> ChunkedCompletePublic:
    record = await desk.complete(upload_id, user)
    return ChunkedCompletePublic(path=record.target_path, size=record.received)


@router.delete("/upload/chunked/{upload_id}")
async def chunked_abort(upload_id: str, user: CurrentUser, desk: UploadDeskDep) -> MessagePublic:
    """Really aborts (on BaluHost this route is shadowed by the generic delete)."""
    await desk.abort(upload_id, user)
    return MessagePublic(message="Upload aborted")


# -- tus 1.0 ----------------------------------------------------------------------------------
def _tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def _metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (a key may stand alone)."""
    values: dict[str, str] = {}
    for pair in (header or "").split(","):
        key, _, encoded = pair.strip().partition(" ")
        if not key:
            continue
        try:
            values[key] = base64.b64decode(encoded, validate=True).decode() if encoded else ""
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise UploadSessionError(
                400, f"Upload-Metadata value of {key!r} is not base64"
            ) from exc
    return values


def _check_version(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise UploadSessionError(412, "Tus-Resumable 1.0.0 required")


def _record_headers(desk: UploadDesk, record: SessionRecord) -> dict[str, str]:
    expires = desk.expires_at(record).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return _tus_headers(
        **{
            "Upload-Offset": str(record.received),
            "Upload-Length": str(record.total_size),
            "Upload-Expires": expires,
        }
    )


def _length(request: Request) -> int:
    """``Upload-Length``: required (no deferred length), at most ``TUS_MAX_SIZE``."""
    length = request.headers.get("upload-length", "")
    if not length.isdigit():
        raise UploadSessionError(400, "Upload-Length required (deferred length is not supported)")
    if int(length) > TUS_MAX_SIZE:
        raise UploadSessionError(413, "Upload-Length exceeds Tus-Max-Size")
    return int(length)


def _offset(request: Request) -> int:
    """A PATCH's ``Upload-Offset``, after its version and content type are checked."""
    _check_version(request)
    if request.headers.get("content-type") != "application/offset+octet-stream":
        raise UploadSessionError(415, "Content-Type must be application/offset+octet-stream")
    offset = request.headers.get("upload-offset", "")
    if not offset.isdigit():
        raise UploadSessionError(400, "Upload-Offset required")
    return int(offset)


def _documented(status: int, description: str, *headers: str) -> dict[int | str, dict[str, Any]]:
    """An OpenAPI answer without a body (tus speaks in headers)."""
    named = {name: {"schema": {"type": "string"}} for name in ("Tus-Resumable", *headers)}
    return {status: {"description": description, "headers": named}}


_SESSION_HEADERS = ("Upload-Offset", "Upload-Length", "Upload-Expires")
_OPTIONS_HEADERS = {
    "Tus-Resumable": TUS_VERSION,
    "Tus-Version": TUS_VERSION,
    "Tus-Extension": TUS_EXTENSIONS,
    "Tus-Max-Size": str(TUS_MAX_SIZE),
    "Tus-Checksum-Algorithm": "sha1,sha256",
}
_OPTIONS_DOC = _documented(204, "What this server speaks", *list(_OPTIONS_HEADERS)[1:])
_CREATE_DOC = _documented(201, "Created; Location names the session", "Location", *_SESSION_HEADERS)
_HEAD_DOC = _documented(200, "Where the session stands", *_SESSION_HEADERS)
_PATCH_DOC = _documented(204, "Written; Upload-Offset is the new offset", *_SESSION_HEADERS)
_DELETE_DOC = _documented(204, "Terminated")


@router.options("/tus", status_code=204, response_class=Response, responses=_OPTIONS_DOC)
async def tus_options() -> Response:
    return Response(status_code=204, headers=_OPTIONS_HEADERS)


@router.post("/tus", status_code=201, response_class=Response, responses=_CREATE_DOC)
async def tus_create(request: Request, user: CurrentUser, desk: UploadDeskDep) -> Response:
    """Creation: ``Upload-Length`` and ``Upload-Metadata`` (``filename``, and ``path``: a folder,
    or the full file path by BaluHost's dot heuristic); a body makes it creation-with-upload."""
    _check_version(request)
    length = _length(request)
    metadata = _metadata(request.headers.get("upload-metadata"))
    target = upload_target(metadata.get("path"), None, metadata.get("filename", ""))
    record = await desk.open_session(user, target, length, metadata.get("filetype"))
    if request.headers.get("content-type") == "application/offset+octet-stream":
        record = await desk.write(
            record, 0, request.stream(), user, request.headers.get("upload-checksum")
        )
    headers = {**_record_headers(desk, record), "Location": f"/api/files/tus/{record.id}"}
    return Response(status_code=201, headers=headers)


@router.head("/tus/{upload_id}", response_class=Response, responses=_HEAD_DOC)
async def tus_head(upload_id: str, user: CurrentUser, desk: UploadDeskDep) -> Response:
    record = await desk.session(upload_id, user)
    return Response(status_code=200, headers=_record_headers(desk, record))


@router.patch("/tus/{upload_id}", status_code=204, response_class=Response, responses=_PATCH_DOC)
async def tus_patch(
    upload_id: str, request: Request, user: CurrentUser, desk: UploadDeskDep
) -> Response:
    offset = _offset(request)
    record = await desk.write_at(
        upload_id, offset, request.stream(), user, request.headers.get("upload-checksum")
    )
    return Response(status_code=204, headers=_record_headers(desk, record))


@router.delete("/tus/{upload_id}", status_code=204, response_class=Response, responses=_DELETE_DOC)
async def tus_delete(upload_id: str, user: CurrentUser, desk: UploadDeskDep) -> Response:
    await desk.abort(upload_id, user)
    return Response(status_code=204, headers=_tus_headers())
