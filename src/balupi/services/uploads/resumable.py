"""Resumable uploads: sessions whose received bytes survive a dropped connection or a restart.

Both BaluHost's chunked trio and tus 1.0 sit on these sessions. A session is a ``.part`` file and
a small JSON record under ``DATA_DIR/uploads/sessions/``; each accepted piece is fsynced and then
the record is rewritten atomically, so the offset the client is told is always on disk (the
offset is the durability contract). A finished session becomes an ordinary queue entry, exactly
like a multipart upload. Sessions idle longer than ``expire_after`` are removed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import anyio

from balupi.clock import Clock, utc_iso
from balupi.durable import fsync_path
from balupi.errors import BaluPiError
from balupi.services.uploads.jsonfile import write_json
from balupi.services.uploads.local_copies import LocalCopies
from balupi.services.uploads.queue import NewUpload, UploadQueue
from balupi.services.uploads.spool import (
    InsufficientStorage,
    SpoolFile,
    free_bytes,
)

CHUNK_SIZE_HINT = 32 * 1024 * 1024  # what BaluHost suggests; any size is accepted
DEFAULT_EXPIRY = timedelta(hours=24)


class UploadSessionError(BaluPiError):
    """A resumable upload request that cannot be applied; ``status_code`` says how to answer."""

    code = "upload_session_invalid"
    status_code: int = 400
    detail: str = "Upload session request invalid"

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code


@dataclass
class SessionRecord:
    id: str
    owner_id: str
    owner_name: str
    target_path: str
    total_size: int
    received: int
    next_chunk: int
    created_at: str
    updated_at: str
    mime_type: str | None = None

    @property
    def complete(self) -> bool:
        return self.received == self.total_size


@dataclass(frozen=True)
class ChunkDigest:
    """A per-piece checksum the client sent (tus ``Upload-Checksum``)."""

    algorithm: str  # "sha1" or "sha256"
    digest: bytes

    @classmethod
    def parse(cls, header: str) -> ChunkDigest:
        algorithm, _, encoded = header.strip().partition(" ")
        if algorithm not in ("sha1", "sha256") or not encoded:
            raise UploadSessionError(400, "Unsupported or malformed Upload-Checksum")
        try:
            return cls(algorithm, base64.b64decode(encoded, validate=True))
        except ValueError as exc:
            raise UploadSessionError(400, "Upload-Checksum is not base64") from exc


class ResumableUploads:
    def __init__(
        self,
        uploads_dir: Path,
        queue: UploadQueue,
        clock: Clock,
        *,
        expire_after: timedelta = DEFAULT_EXPIRY,
        reserve_bytes: int = 256 * 1024 * 1024,
        copies: LocalCopies | None = None,
    ) -> None:
        self._copies = copies or LocalCopies()
        self._dir = uploads_dir / "sessions"
        self._uploads_dir = uploads_dir
        self._queue = queue
        self._clock = clock
        self.expire_after = expire_after
        self._reserve = reserve_bytes
        self._locks: dict[str, asyncio.Lock] = {}

    # -- records ------------------------------------------------------------------------------
    def _record_path(self, upload_id: str) -> Path:
        return self._dir / f"{upload_id}.json"

    async def _save(self, record: SessionRecord) -> None:
        record.updated_at = utc_iso(self._clock.now())
        await write_json(self._record_path(record.id), asdict(record))

    async def get(self, upload_id: str, owner_id: str | None = None) -> SessionRecord:
        """The session, or 404; 403 when it belongs to someone else (as BaluHost answers)."""
        if not _valid_id(upload_id):
            raise UploadSessionError(404, "Upload session not found")
        try:
            raw = await anyio.Path(self._record_path(upload_id)).read_text()
        except FileNotFoundError as exc:
            raise UploadSessionError(404, "Upload session not found") from exc
        record = SessionRecord(**json.loads(raw))
        if owner_id is not None and record.owner_id != owner_id:
            raise UploadSessionError(403, "Access denied")
        if self._expired(record):
            await self.discard(record.id)
            raise UploadSessionError(404, "Upload session not found")
        return record

    def expires_at(self, record: SessionRecord) -> datetime:
        return datetime.fromisoformat(record.updated_at.replace("Z", "+00:00")) + self.expire_after

    def _expired(self, record: SessionRecord) -> bool:
        return self.expires_at(record) <= self._clock.now()

    def lock(self, upload_id: str) -> asyncio.Lock:
        """One writer per session: two PATCHes for one offset must not interleave."""
        return self._locks.setdefault(upload_id, asyncio.Lock())

    # -- life cycle ---------------------------------------------------------------------------
    async def create(
        self,
        *,
        owner_id: str,
        owner_name: str,
        target_path: str,
        total_size: int,
        mime_type: str | None,
    ) -> SessionRecord:
        if total_size < 0:
            raise UploadSessionError(400, "total_size must not be negative")
        await anyio.Path(self._dir).mkdir(parents=True, exist_ok=True)
        free = await anyio.to_thread.run_sync(free_bytes, self._dir)
        if free - self._reserve < total_size:
            raise InsufficientStorage()
        now = utc_iso(self._clock.now())
        record = SessionRecord(
            id=str(uuid.uuid4()),
            owner_id=owner_id,
            owner_name=owner_name,
            target_path=target_path,
            total_size=total_size,
            received=0,
            next_chunk=0,
            created_at=now,
            updated_at=now,
            mime_type=mime_type,
        )
        spool = SpoolFile(self._dir, record.id)
        await spool.open()
        await spool.sync()
        await spool.close()
        await self._save(record)
        return record

    async def append(
        self,
        record: SessionRecord,
        offset: int,
        body: AsyncIterator[bytes],
        *,
        chunk_index: int | None = None,
        digest: ChunkDigest | None = None,
    ) -> SessionRecord:
        """Write ``body`` at ``offset`` (which must be the received count); returns the record.

        A piece that would pass ``total_size`` aborts the session (BaluHost does the same); a
        piece whose ``digest`` does not match is thrown away and the offset stays (tus 460).
        """
        if offset != record.received:
            raise UploadSessionError(409, f"Offset {offset} does not match {record.received}")
        spool = SpoolFile(self._dir, record.id)
        await spool.open(offset=record.received)
        piece = hashlib.new(digest.algorithm) if digest else None
        try:
            async for data in body:
                if spool.size + len(data) > record.total_size:
                    await spool.discard()
                    await self.discard(record.id)
                    raise UploadSessionError(400, "Upload exceeds the declared total size")
                if piece is not None:
                    piece.update(data)
                await spool.write(data)
            if digest is not None and piece is not None and piece.digest() != digest.digest:
                await spool.close()
                await anyio.to_thread.run_sync(_truncate, spool.partial_path, record.received)
                raise UploadSessionError(460, "Checksum mismatch")
            await spool.sync()
        finally:
            await spool.close()
        record.received = spool.size
        if chunk_index is not None:
            record.next_chunk = chunk_index + 1
        await self._save(record)
        return record

    async def finish(self, record: SessionRecord) -> int:
        """Turn a complete session into an acknowledged queue entry; returns its queue id."""
        if not record.complete:
            raise UploadSessionError(
                400, f"Upload incomplete: {record.received} of {record.total_size} bytes received"
            )
        spool = SpoolFile(self._dir, record.id)
        await spool.open(offset=record.received)  # rehashes what is on disk: the true SHA-256
        await spool.close()
        final = self._uploads_dir / record.id

        def _publish() -> None:
            os.replace(spool.partial_path, final)
            fsync_path(self._uploads_dir)
            fsync_path(self._dir)

        await anyio.to_thread.run_sync(_publish)
        upload = NewUpload(
            target_path=record.target_path,
            local_path=final,
            size=record.received,
            sha256=spool.sha256,
            mime_type=record.mime_type,
        )
        try:
            ids, superseded = await self._queue.acknowledge(
                record.owner_id, record.owner_name, [upload]
            )
        except BaseException:
            await anyio.to_thread.run_sync(lambda: os.replace(final, spool.partial_path))
            raise
        await anyio.Path(self._record_path(record.id)).unlink(missing_ok=True)
        self._copies.serve([upload], self._clock.now())
        await self._copies.release(superseded)
        self._locks.pop(record.id, None)
        return ids[0]

    async def discard(self, upload_id: str) -> None:
        for path in (self._record_path(upload_id), self._dir / f"{upload_id}.part"):
            await anyio.Path(path).unlink(missing_ok=True)
        self._locks.pop(upload_id, None)

    async def expire(self) -> int:
        """Remove sessions idle longer than ``expire_after`` (a scheduler job)."""
        if not await anyio.Path(self._dir).exists():
            return 0
        removed = 0
        async for path in anyio.Path(self._dir).glob("*.json"):
            record = SessionRecord(**json.loads(await path.read_text()))
            if self._expired(record):
                await self.discard(record.id)
                removed += 1
        return removed


def _valid_id(upload_id: str) -> bool:
    try:
        return str(uuid.UUID(upload_id)) == upload_id
    except ValueError:
        return False


def _truncate(path: Path, size: int) -> None:
    with path.open("r+b") as handle:
        handle.truncate(size)
        handle.flush()
        os.fsync(handle.fileno())
