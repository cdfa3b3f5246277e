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
import mimetypes
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from balupi.api.deps import CurrentUser, ServicesDep
from balupi.clock import utc_iso
from balupi.errors import AccessDenied
from balupi.services.files.paths import Viewer, join, normalize_path, parent_of, require_storable
from balupi.services.uploads.resumable import (
    CHUNK_SIZE_HINT,
    ChunkDigest,
    ResumableUploads,
    SessionRecord,
    UploadSessionError,
)
from balupi.services.uploads.targets import safe_filename, upload_target

router = APIRouter(prefix="/api/files", tags=["uploads"])

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,checksum,expiration,termination"
TUS_MAX_SIZE = 64 * 1024**3


def _target_for(user: CurrentUser, folder: str, filename: str) -> str:
    viewer = Viewer(user.username, user.is_admin)
    target = require_storable(join(normalize_path(folder), safe_filename(filename)))
    viewer.require(parent_of(target))
    if not user.is_admin and "/" not in target:
        raise AccessDenied()
    return target


def _sessions(services: ServicesDep) -> ResumableUploads:
    return services.uploads.resumable


# -- BaluHost's chunked trio ------------------------------------------------------------------
class ChunkedInit(BaseModel):
    filename: str
    total_size: int
    target_path: str = ""


@router.post("/upload/chunked/init")
async def chunked_init(
    body: ChunkedInit, user: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    target = _target_for(user, body.target_path, body.filename)
    record = await _sessions(services).create(
        owner_id=user.id,
        owner_name=user.username,
        target_path=target,
        total_size=body.total_size,
        mime_type=mimetypes.guess_type(target)[0],
    )
    return {"upload_id": record.id, "chunk_size": CHUNK_SIZE_HINT}


@router.get("/upload/chunked/{upload_id}")
async def chunked_status(
    upload_id: str, user: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    """Where a dropped upload stands: send chunk ``next_chunk_index`` from ``received_bytes``."""
    record = await _sessions(services).get(upload_id, user.id)
    return {
        "upload_id": record.id,
        "path": record.target_path,
        "total_size": record.total_size,
        "received_bytes": record.received,
        "next_chunk_index": record.next_chunk,
        "expires_at": utc_iso(_sessions(services).expires_at(record)),
    }


@router.post("/upload/chunked/{upload_id}/chunk")
async def chunked_chunk(
    upload_id: str,
    request: Request,
    user: CurrentUser,
    services: ServicesDep,
    chunk_index: int = Query(...),
) -> dict[str, Any]:
    sessions = _sessions(services)
    async with sessions.lock(upload_id):
        record = await sessions.get(upload_id, user.id)
        if chunk_index != record.next_chunk:
            raise UploadSessionError(400, f"Expected chunk {record.next_chunk}, got {chunk_index}")
        record = await sessions.append(
            record, record.received, request.stream(), chunk_index=chunk_index
        )
    return {"received_bytes": record.received}


@router.post("/upload/chunked/{upload_id}/complete")
async def chunked_complete(
    upload_id: str, user: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    sessions = _sessions(services)
    async with sessions.lock(upload_id):
        record = await sessions.get(upload_id, user.id)
        await sessions.finish(record)
    await services.uploads.accepted(user.id, user.token)
    return {"path": record.target_path, "size": record.received}


@router.delete("/upload/chunked/{upload_id}")
async def chunked_abort(upload_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    """Really aborts (on BaluHost this route is shadowed by the generic delete)."""
    record = await _sessions(services).get(upload_id, user.id)
    await _sessions(services).discard(record.id)
    return {"message": "Upload aborted"}


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


def _record_headers(sessions: ResumableUploads, record: SessionRecord) -> dict[str, str]:
    expires = sessions.expires_at(record).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return _tus_headers(
        **{
            "Upload-Offset": str(record.received),
            "Upload-Length": str(record.total_size),
            "Upload-Expires": expires,
        }
    )


@router.options("/tus")
async def tus_options() -> Response:
    return Response(
        status_code=204,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(TUS_MAX_SIZE),
            "Tus-Checksum-Algorithm": "sha1,sha256",
        },
    )


@router.post("/tus")
async def tus_create(request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    """Creation: ``Upload-Length`` and ``Upload-Metadata`` (``filename``, and ``path``: a folder,
    or the full file path by BaluHost's dot heuristic); a body makes it creation-with-upload."""
    _check_version(request)
    length = request.headers.get("upload-length", "")
    if not length.isdigit():
        raise UploadSessionError(400, "Upload-Length required (deferred length is not supported)")
    if int(length) > TUS_MAX_SIZE:
        raise UploadSessionError(413, "Upload-Length exceeds Tus-Max-Size")
    metadata = _metadata(request.headers.get("upload-metadata"))
    viewer = Viewer(user.username, user.is_admin)
    target = upload_target(metadata.get("path"), None, metadata.get("filename", ""))
    viewer.require(parent_of(target))
    if not user.is_admin and "/" not in target:
        raise AccessDenied()
    sessions = _sessions(services)
    record = await sessions.create(
        owner_id=user.id,
        owner_name=user.username,
        target_path=target,
        total_size=int(length),
        mime_type=metadata.get("filetype") or mimetypes.guess_type(target)[0],
    )
    if request.headers.get("content-type") == "application/offset+octet-stream":
        record = await _tus_write(sessions, record, request, 0, services, user)
    headers = _record_headers(sessions, record)
    headers["Location"] = f"/api/files/tus/{record.id}"
    return Response(status_code=201, headers=headers)


@router.head("/tus/{upload_id}")
async def tus_head(
    upload_id: str, request: Request, user: CurrentUser, services: ServicesDep
) -> Response:
    sessions = _sessions(services)
    record = await sessions.get(upload_id, user.id)
    return Response(status_code=200, headers=_record_headers(sessions, record))


@router.patch("/tus/{upload_id}")
async def tus_patch(
    upload_id: str, request: Request, user: CurrentUser, services: ServicesDep
) -> Response:
    _check_version(request)
    if request.headers.get("content-type") != "application/offset+octet-stream":
        raise UploadSessionError(415, "Content-Type must be application/offset+octet-stream")
    offset = request.headers.get("upload-offset", "")
    if not offset.isdigit():
        raise UploadSessionError(400, "Upload-Offset required")
    sessions = _sessions(services)
    async with sessions.lock(upload_id):
        record = await sessions.get(upload_id, user.id)
        record = await _tus_write(sessions, record, request, int(offset), services, user)
    return Response(status_code=204, headers=_record_headers(sessions, record))


@router.delete("/tus/{upload_id}")
async def tus_delete(
    upload_id: str, request: Request, user: CurrentUser, services: ServicesDep
) -> Response:
    sessions = _sessions(services)
    record = await sessions.get(upload_id, user.id)
    await sessions.discard(record.id)
    return Response(status_code=204, headers=_tus_headers())


async def _tus_write(
    sessions: ResumableUploads,
    record: SessionRecord,
    request: Request,
    offset: int,
    services: ServicesDep,
    user: CurrentUser,
) -> SessionRecord:
    checksum = request.headers.get("upload-checksum")
    digest = ChunkDigest.parse(checksum) if checksum else None
    record = await sessions.append(record, offset, request.stream(), digest=digest)
    if record.complete:
        await sessions.finish(record)
        await services.uploads.accepted(user.id, user.token)
    return record
