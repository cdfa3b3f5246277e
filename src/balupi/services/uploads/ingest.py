"""``UploadIngest``: takes ``POST /api/files/upload`` at once, durably, whatever the NAS is doing.

Every file part streams straight to ``DATA_DIR/uploads`` while it is hashed; each file and the
folder are fsynced; then one transaction adds the queue rows, and only then does the client hear
200. A crash before the commit leaves files no row names (cleaned at start-up) and the client saw
no 200; after it, the upload is owed to the NAS. A disk that cannot take the bytes is 507 (checked
before and while writing) and removes this request's files only; a saturated queue is 429.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import anyio

from balupi.clock import Clock, SystemClock
from balupi.db.models import FileMetadata
from balupi.errors import AccessDenied, BaluPiError
from balupi.logs import get_logger
from balupi.services.files.paths import Viewer, parent_of
from balupi.services.uploads.local_copies import LocalCopies
from balupi.services.uploads.multipart import (
    Field,
    FileChunk,
    FileEnded,
    FileStarted,
    MalformedUpload,
    read_multipart,
)
from balupi.services.uploads.queue import NewUpload, UploadQueue
from balupi.services.uploads.spool import InsufficientStorage, SpoolFile, free_bytes
from balupi.services.uploads.targets import upload_target

log = get_logger(__name__)

FILE_FIELDS = ("file", "files")
ChecksumLookup = Callable[[str], Awaitable[str | None]]


async def _nothing_known(path: str) -> str | None:
    return None


def checksums_from(lookup: Callable[[str], Awaitable[FileMetadata | None]]) -> ChecksumLookup:
    """The NAS's checksum of a path from a metadata lookup (None for folders and unknowns)."""

    async def checksum(path: str) -> str | None:
        row = await lookup(path)
        return row.checksum if row is not None and not row.is_directory else None

    return checksum


SPACE_CHECK_BYTES = 8 * 1024 * 1024  # re-check free space this often while a body streams in


class UploadQueueFull(BaluPiError):
    """Too much is waiting for the NAS (429; BaluDesk reads ``retry_after`` from the body)."""

    code = "upload_queue_full"
    status_code = 429
    detail = "Upload queue is full. Please try again later."

    def __init__(self, retry_after: int = 60) -> None:
        super().__init__()
        self.retry_after = retry_after


@dataclass(frozen=True)
class IngestLimits:
    max_open_entries: int = 50_000
    max_files_per_request: int = 1_000
    # Space kept free on the Pi's disk for the database, logs and the cache's own work.
    reserve_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True)
class IngestResult:
    upload_ids: list[str]
    queue_ids: list[int]
    paths: list[str]


@dataclass
class _Received:
    spool: SpoolFile
    field: str
    filename: str
    content_type: str | None
    upload_id: str


@dataclass
class _Request:
    files: list[_Received] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


class UploadIngest:
    def __init__(
        self,
        uploads_dir: Path,
        queue: UploadQueue,
        limits: IngestLimits | None = None,
        *,
        known_checksum: ChecksumLookup | None = None,
        copies: LocalCopies | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._dir = uploads_dir
        self._queue = queue
        self._copies = copies or LocalCopies()
        self._clock = clock or SystemClock()
        self.limits = limits or IngestLimits()
        self._known_checksum = known_checksum or _nothing_known

    async def check_capacity(self, incoming_bytes: int | None) -> None:
        """429 when the queue is saturated, 507 when the disk cannot take ``incoming_bytes``."""
        totals = await self._queue.totals()
        if totals.open_entries >= self.limits.max_open_entries:
            raise UploadQueueFull()
        free = await anyio.to_thread.run_sync(free_bytes, self._dir)
        if free - self.limits.reserve_bytes < (incoming_bytes or 0):
            raise InsufficientStorage()

    async def ingest_multipart(
        self,
        *,
        user_id: str,
        username: str,
        viewer: Viewer,
        content_type: str | None,
        content_length: int | None,
        body: AsyncIterator[bytes],
        query_path: str | None,
    ) -> IngestResult:
        """Receive a multipart upload; returns once every file is durable and acknowledged."""
        await self.check_capacity(content_length)
        request = _Request()
        try:
            await self._receive(request, content_type, body)
            uploads = [
                self._describe(received, request.fields.get("path"), query_path, viewer)
                for received in self._chosen_files(request)
            ]
            chosen = self._chosen_files(request)
            for received in request.files:
                if received in chosen:
                    await received.spool.commit()
                else:
                    await received.spool.discard()
            uploads = [
                replace(upload, base_checksum=await self._known_checksum(upload.target_path))
                for upload in uploads
            ]
            queue_ids, superseded = await self._queue.acknowledge(user_id, username, uploads)
        except BaseException:
            for received in request.files:
                await received.spool.discard()
            raise
        self._copies.serve(uploads, self._clock.now())
        await self._copies.release(superseded)
        log.info("upload accepted", files=len(uploads), user=username)
        return IngestResult(
            upload_ids=[received.upload_id for received in self._chosen_files(request)],
            queue_ids=queue_ids,
            paths=[upload.target_path for upload in uploads],
        )

    async def _receive(
        self, request: _Request, content_type: str | None, body: AsyncIterator[bytes]
    ) -> None:
        current: _Received | None = None
        unchecked = 0
        async for event in read_multipart(content_type, body):
            if isinstance(event, FileStarted):
                current = await self._start_file(request, event)
            elif isinstance(event, FileChunk):
                if current is not None:
                    await current.spool.write(event.data)
                    unchecked += len(event.data)
            elif isinstance(event, FileEnded):
                if current is not None:
                    await current.spool.sync()
                current = None
            elif isinstance(event, Field):
                request.fields[event.name] = event.value
            if unchecked >= SPACE_CHECK_BYTES:
                unchecked = 0
                free = await anyio.to_thread.run_sync(free_bytes, self._dir)
                if free < self.limits.reserve_bytes // 2:
                    raise InsufficientStorage()
        if current is not None:
            raise MalformedUpload("Upload ended in the middle of a file")

    async def _start_file(self, request: _Request, event: FileStarted) -> _Received | None:
        if event.field not in FILE_FIELDS or not event.filename:
            return None  # BaluHost ignores other parts, and parts without a file name
        if len(request.files) >= self.limits.max_files_per_request:
            raise MalformedUpload(f"At most {self.limits.max_files_per_request} files per request")
        upload_id = str(uuid.uuid4())
        received = _Received(
            SpoolFile(self._dir, upload_id),
            event.field,
            event.filename,
            event.content_type,
            upload_id,
        )
        request.files.append(received)
        await received.spool.open()
        return received

    @staticmethod
    def _chosen_files(request: _Request) -> list[_Received]:
        """BaluHost: ``files`` wins over ``file`` when a request carries both."""
        if any(received.field == "files" for received in request.files):
            return [received for received in request.files if received.field == "files"]
        return list(request.files)

    @staticmethod
    def _describe(
        received: _Received, form_path: str | None, query_path: str | None, viewer: Viewer
    ) -> NewUpload:
        target = upload_target(form_path, query_path, received.filename)
        viewer.require(parent_of(target))
        if not viewer.is_admin and "/" not in target:
            raise AccessDenied()  # a user may not write into the storage root
        mime = mimetypes.guess_type(target)[0] or (
            received.content_type
            if received.content_type and received.content_type != "application/octet-stream"
            else None
        )
        return NewUpload(
            target_path=target,
            local_path=received.spool.final_path,
            size=received.spool.size,
            sha256=received.spool.sha256,
            mime_type=mime,
        )
