"""Emulated BaluHost chunked upload: ``init`` / ``{id}/chunk?chunk_index=N`` / ``{id}/complete``.

Faithful to docs/compat/nas-api.md §3.5, quirks included: chunks must come strictly in order, a
chunk that overflows the declared size aborts the session, ``complete`` accepts a short upload, and
sessions live only in the NAS's memory with their bytes under ``<storage>/.tmp/uploads/<id>``.

There is deliberately no abort route: on BaluHost ``DELETE /api/files/upload/chunked/{id}`` is
shadowed by the generic ``DELETE /api/files/{path}``, which answers it without touching the
session, and the files router gives exactly that answer here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath

import anyio
import anyio.to_thread
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from balupi.sim.nas.deps import CurrentUser, State
from balupi.sim.nas.paths import NasPath, require_upload_target, resolve
from balupi.sim.nas.state import ChunkedUpload, EmulatedNas, NasUser
from balupi.sim.nas.storage import StreamTooLongError, require_space, write_stream

router = APIRouter(prefix="/api/files/upload/chunked")

# BaluHost suggests 32 MiB chunks; clients may send any size as long as the total fits.
CHUNK_SIZE = 32 * 1024 * 1024


class InitRequest(BaseModel):
    filename: str
    total_size: int
    target_path: str = ""  # a directory


class InitResponse(BaseModel):
    upload_id: str
    chunk_size: int


class ChunkResponse(BaseModel):
    received_bytes: int


class CompleteResponse(BaseModel):
    path: str
    size: int


def _temp_dir(state: EmulatedNas) -> Path:
    return state.storage / ".tmp" / "uploads"


def _session(state: EmulatedNas, user: NasUser, upload_id: str) -> ChunkedUpload:
    session = state.chunked_uploads.get(upload_id)
    if session is None:
        raise HTTPException(status_code=404, detail="Upload session not found")
    if session.user_id != user.id:  # admins included: a session belongs to its starter
        raise HTTPException(status_code=403, detail="Not your upload session")
    return session


def _discard(state: EmulatedNas, session: ChunkedUpload) -> None:
    with state.lock:
        state.chunked_uploads.pop(session.id, None)
    session.temp_path.unlink(missing_ok=True)


def _cut_back(session: ChunkedUpload) -> None:
    """Drop the bytes of a chunk that did not fully arrive."""
    with contextlib.suppress(FileNotFoundError):
        os.truncate(session.temp_path, session.received_bytes)


@router.post("/init")
def init(body: InitRequest, state: State, user: CurrentUser) -> InitResponse:
    """Jail and ownership of the target first, then the filename, then the space."""
    target = resolve(state, user, body.target_path)
    require_upload_target(state, user, target)
    filename = PurePosixPath(body.filename).name
    if filename in ("", ".", ".."):
        raise HTTPException(status_code=400, detail="Invalid filename")
    require_space(state, body.total_size)
    upload_id = str(uuid.uuid4())
    temp_dir = _temp_dir(state)
    temp_dir.mkdir(parents=True, exist_ok=True)
    session = ChunkedUpload(
        id=upload_id,
        user_id=user.id,
        target_dir=target.rel,
        filename=filename,
        total_size=body.total_size,
        temp_path=temp_dir / upload_id,
    )
    with state.lock:
        state.chunked_uploads[upload_id] = session
    return InitResponse(upload_id=upload_id, chunk_size=CHUNK_SIZE)


@router.post("/{upload_id}/chunk")
async def chunk(
    upload_id: str,
    request: Request,
    state: State,
    user: CurrentUser,
    chunk_index: int = Query(),
) -> ChunkResponse:
    """Append the raw request body. Only a fully received chunk counts: if the body breaks
    off, the temp file is cut back so the client can send the same index again."""
    session = _session(state, user, upload_id)
    if chunk_index != session.next_chunk_index:
        raise HTTPException(
            status_code=400,
            detail=f"Expected chunk {session.next_chunk_index}, got {chunk_index}",
        )
    hasher = session.hasher.copy()
    room = session.total_size - session.received_bytes
    try:
        written = await write_stream(
            session.temp_path, request.stream(), hasher, append=True, limit=room
        )
    except StreamTooLongError as exc:
        await anyio.to_thread.run_sync(_discard, state, session)
        raise HTTPException(
            status_code=400,
            detail=f"Chunk exceeds the declared total size of {session.total_size} bytes",
        ) from exc
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_cut_back, session)
        raise
    with state.lock:
        session.hasher = hasher
        session.received_bytes += written
        session.next_chunk_index += 1
    return ChunkResponse(received_bytes=session.received_bytes)


@router.post("/{upload_id}/complete")
def complete(upload_id: str, state: State, user: CurrentUser) -> CompleteResponse:
    """Move the temp file into place, overwriting, and record owner and SHA-256.

    Whether all declared bytes arrived is not checked (BaluHost doesn't either).
    """
    session = _session(state, user, upload_id)
    with state.lock:
        state.chunked_uploads.pop(upload_id, None)
    if not session.temp_path.exists():
        raise HTTPException(status_code=400, detail=f"Temp file missing for session {upload_id}")
    directory = NasPath(session.target_dir, state.storage)
    directory.abs.mkdir(parents=True, exist_ok=True)
    dest = directory.child(session.filename)
    size = session.temp_path.stat().st_size
    existing = dest.abs.stat().st_size if dest.abs.is_file() else 0
    try:
        require_space(state, size - existing)
    except HTTPException:
        session.temp_path.unlink(missing_ok=True)
        raise
    shutil.move(session.temp_path, dest.abs)
    state.ensure_file_record(
        dest.rel, user.id, is_directory=False, checksum=session.hasher.hexdigest()
    )
    return CompleteResponse(path=dest.rel, size=size)
