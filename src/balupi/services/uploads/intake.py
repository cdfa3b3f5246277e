"""What the upload routes ask of the upload services, one method per route.

Who may write where (a user under their own folders, never at the root; an admin anywhere),
the resumable sessions' steps with their locks, and what follows an accepted upload (the
owner's token kept, the worker kicked) are decided here, not in ``routes/uploads.py`` and
``routes/resumable.py``. A view over the container's upload and file services, built per
request (``api/deps.py``).
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from balupi.errors import AccessDenied
from balupi.services.auth import AuthenticatedUser
from balupi.services.files.paths import Viewer, parent_of
from balupi.services.files.service import FileServices
from balupi.services.uploads.resumable import ChunkDigest, SessionRecord, UploadSessionError
from balupi.services.uploads.service import Uploads


def require_upload_permission(user: AuthenticatedUser, target: str) -> str:
    """``target`` if ``user`` may upload there: an admin anywhere, a user in a folder they may
    see (never at the root); ``AccessDenied`` otherwise."""
    Viewer(user.username, user.is_admin).require(parent_of(target))
    if not user.is_admin and "/" not in target:
        raise AccessDenied()
    return target


@dataclass(frozen=True)
class UploadDesk:
    uploads: Uploads
    files: FileServices

    async def accepted(self, user: AuthenticatedUser) -> None:
        await self.uploads.accepted(user.id, user.token)

    async def ingest(
        self,
        user: AuthenticatedUser,
        content_type: str | None,
        content_length: int | None,
        body: AsyncIterator[bytes],
        query_path: str | None,
    ) -> list[str]:
        """A multipart upload, durable on the Pi when this returns; its queue entries' ids."""
        result = await self.uploads.ingest.ingest_multipart(
            user_id=user.id,
            username=user.username,
            viewer=await self.files.viewer_for(user),
            content_type=content_type,
            content_length=content_length,
            body=body,
            query_path=query_path,
        )
        await self.accepted(user)
        return result.upload_ids

    async def settle_parked(self, entry_id: int, user: AuthenticatedUser, *, retry: bool) -> bool:
        """Retry or discard a change the NAS refused for good (its owner's, or any for an
        admin); False when there is no such change."""
        uploads = self.uploads
        owner = None if user.is_admin else user.id
        found, released = await uploads.queue.settle_parked(entry_id, owner, retry=retry)
        if not found:
            return False
        if released is not None:
            await uploads.copies.release([released])
        if retry:
            await self.accepted(user)
        return True

    # -- resumable sessions -------------------------------------------------------------------
    async def open_session(
        self, user: AuthenticatedUser, target: str, total_size: int, mime_type: str | None = None
    ) -> SessionRecord:
        """A new session for ``target``, once the caller may upload there."""
        require_upload_permission(user, target)
        return await self.uploads.resumable.create(
            owner_id=user.id,
            owner_name=user.username,
            target_path=target,
            total_size=total_size,
            mime_type=mime_type or mimetypes.guess_type(target)[0],
        )

    async def session(self, upload_id: str, user: AuthenticatedUser) -> SessionRecord:
        return await self.uploads.resumable.get(upload_id, user.id)

    def expires_at(self, record: SessionRecord) -> datetime:
        return self.uploads.resumable.expires_at(record)

    async def append_chunk(
        self, upload_id: str, chunk_index: int, body: AsyncIterator[bytes], user: AuthenticatedUser
    ) -> SessionRecord:
        """BaluHost's chunk ``chunk_index``, which must be the next one."""
        sessions = self.uploads.resumable
        async with sessions.lock(upload_id):
            record = await sessions.get(upload_id, user.id)
            if chunk_index != record.next_chunk:
                raise UploadSessionError(
                    400, f"Expected chunk {record.next_chunk}, got {chunk_index}"
                )
            return await sessions.append(record, record.received, body, chunk_index=chunk_index)

    async def complete(self, upload_id: str, user: AuthenticatedUser) -> SessionRecord:
        """Turn the whole session into an acknowledged upload."""
        sessions = self.uploads.resumable
        async with sessions.lock(upload_id):
            record = await sessions.get(upload_id, user.id)
            await sessions.finish(record)
        await self.accepted(user)
        return record

    async def abort(self, upload_id: str, user: AuthenticatedUser) -> None:
        record = await self.uploads.resumable.get(upload_id, user.id)
        await self.uploads.resumable.discard(record.id)

    async def write(
        self,
        record: SessionRecord,
        offset: int,
        body: AsyncIterator[bytes],
        user: AuthenticatedUser,
        checksum: str | None = None,
    ) -> SessionRecord:
        """A tus piece at ``offset`` (``checksum``: its ``Upload-Checksum`` header); the last one
        makes the session an acknowledged upload."""
        sessions = self.uploads.resumable
        digest = ChunkDigest.parse(checksum) if checksum else None
        record = await sessions.append(record, offset, body, digest=digest)
        if record.complete:
            await sessions.finish(record)
            await self.accepted(user)
        return record

    async def write_at(
        self,
        upload_id: str,
        offset: int,
        body: AsyncIterator[bytes],
        user: AuthenticatedUser,
        checksum: str | None = None,
    ) -> SessionRecord:
        """``write`` to the caller's session ``upload_id``, one writer at a time."""
        async with self.uploads.resumable.lock(upload_id):
            record = await self.session(upload_id, user)
            return await self.write(record, offset, body, user, checksum)
