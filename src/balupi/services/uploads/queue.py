"""``UploadQueue``: the durable list of work the Pi owes the NAS (table ``upload_queue``).

A row is the acknowledgement: once it is committed, the file it names is durable and will reach
the NAS. Reads here serve the listing overlay (uploads show at once), downloads of files that
exist only on the Pi, the sync status, and back-pressure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.db.models import QueueOperation, QueueStatus, UploadQueueEntry, User

# The one definition of the queue's states, shared by the worker, listings and the status.
# Open: work the NAS will still get (a push or a decision is still to come).
OPEN_STATES = (
    QueueStatus.PENDING,
    QueueStatus.UPLOADING,
    QueueStatus.VERIFYING,
    QueueStatus.FAILED,
    QueueStatus.WAITING_FOR_AUTH,
    QueueStatus.CONFLICT,
)
# Open and ready for the worker once due (``next_attempt_at``).
RUNNABLE = (QueueStatus.PENDING, QueueStatus.FAILED)
# Refused by the NAS for good: never pushed again on its own, but an upload's bytes are kept.
PARKED_STATES = (QueueStatus.REJECTED,)
# Open uploads that have not started and may still be withdrawn or superseded.
WITHDRAWABLE = (QueueStatus.PENDING, QueueStatus.FAILED, QueueStatus.WAITING_FOR_AUTH)


@dataclass(frozen=True)
class NewUpload:
    """A file that is already durable on the Pi, about to be acknowledged."""

    target_path: str
    local_path: Path
    size: int
    sha256: str
    mime_type: str | None
    # The NAS's checksum of the target as the Pi last saw it (a conflict is a change since).
    base_checksum: str | None = None


@dataclass(frozen=True)
class PendingFile:
    """An upload the NAS does not have yet, as listings and downloads see it."""

    queue_id: int
    path: str
    local_path: Path
    size: int
    sha256: str
    owner_id: str
    owner_name: str | None
    mime_type: str | None
    accepted_at: datetime


@dataclass(frozen=True)
class QueueTotals:
    open_entries: int
    pending_bytes: int
    oldest_at: datetime | None
    # Parked uploads: bytes only the Pi holds and the NAS refused.
    parked_uploads: int = 0
    parked_entries: int = 0


class UploadQueue:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def acknowledge(
        self, owner_id: str, owner_name: str, uploads: Sequence[NewUpload]
    ) -> tuple[list[int], list[Path]]:
        """Commit one row per upload in one transaction; returns the new ids and the local files
        of earlier pending uploads to the same paths, now superseded (cancelled) and safe to
        delete."""
        superseded: list[Path] = []
        async with self._sessions.begin() as session:
            await _ensure_user(session, owner_id, owner_name)
            targets = [upload.target_path for upload in uploads]
            older = (
                await session.scalars(
                    select(UploadQueueEntry).where(
                        UploadQueueEntry.operation == QueueOperation.UPLOAD,
                        UploadQueueEntry.target_path.in_(targets),
                        # A newer upload replaces a parked one too: its bytes are newer.
                        UploadQueueEntry.status.in_((*WITHDRAWABLE, *PARKED_STATES)),
                    )
                )
            ).all()
            for entry in older:
                entry.status = QueueStatus.CANCELLED
                entry.last_error = "superseded by a newer upload"
                if entry.local_path:
                    superseded.append(Path(entry.local_path))
            rows = [
                UploadQueueEntry(
                    operation=QueueOperation.UPLOAD,
                    status=QueueStatus.PENDING,
                    owner_id=owner_id,
                    target_path=upload.target_path,
                    local_path=str(upload.local_path),
                    size=upload.size,
                    sha256=upload.sha256,
                    mime_type=upload.mime_type,
                    base_checksum=upload.base_checksum,
                )
                for upload in uploads
            ]
            session.add_all(rows)
            await session.flush()
            ids = [row.id for row in rows]
        return ids, superseded

    async def totals(self) -> QueueTotals:
        async with self._sessions() as session:
            count, size, oldest = (
                await session.execute(
                    select(
                        func.count(UploadQueueEntry.id),
                        func.coalesce(func.sum(UploadQueueEntry.size), 0),
                        func.min(UploadQueueEntry.created_at),
                    ).where(UploadQueueEntry.status.in_(OPEN_STATES))
                )
            ).one()
            parked_entries, parked_uploads = (
                await session.execute(
                    select(
                        func.count(UploadQueueEntry.id),
                        func.count(UploadQueueEntry.local_path),
                    ).where(UploadQueueEntry.status.in_(PARKED_STATES))
                )
            ).one()
        return QueueTotals(
            int(count or 0),
            int(size or 0),
            oldest,
            parked_uploads=int(parked_uploads or 0),
            parked_entries=int(parked_entries or 0),
        )

    async def pending_files(self, *, folder: str | None = None) -> list[PendingFile]:
        """Uploads not yet confirmed by the NAS, newest per path; optionally only in ``folder``."""
        query = (
            select(UploadQueueEntry, User.username)
            .join(User, User.id == UploadQueueEntry.owner_id, isouter=True)
            .where(
                UploadQueueEntry.operation == QueueOperation.UPLOAD,
                UploadQueueEntry.status.in_(OPEN_STATES),
                UploadQueueEntry.local_path.is_not(None),
            )
            .order_by(UploadQueueEntry.id)
        )
        if folder is not None:
            prefix = f"{folder}/" if folder else ""
            query = query.where(UploadQueueEntry.target_path.startswith(prefix, autoescape=True))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        newest: dict[str, PendingFile] = {}
        for entry, username in rows:
            if folder is not None and "/" in entry.target_path.removeprefix(
                f"{folder}/" if folder else ""
            ):
                continue  # deeper than the folder itself
            newest[entry.target_path] = PendingFile(
                queue_id=entry.id,
                path=entry.target_path,
                local_path=Path(entry.local_path or ""),
                size=entry.size or 0,
                sha256=entry.sha256 or "",
                owner_id=entry.owner_id,
                owner_name=username,
                mime_type=entry.mime_type,
                accepted_at=entry.created_at,
            )
        return list(newest.values())

    async def referenced_local_files(self) -> set[str]:
        """Every local file an open or parked queue row still needs (the rest may be cleaned
        up): a parked upload's bytes are kept until a newer upload supersedes them."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(UploadQueueEntry.local_path).where(
                    UploadQueueEntry.status.in_((*OPEN_STATES, *PARKED_STATES)),
                    UploadQueueEntry.local_path.is_not(None),
                )
            )
            return {row for row in rows if row}

    async def cancel_pending_upload(self, path: str, reason: str) -> list[Path]:
        """Withdraw open uploads to ``path`` that have not started; returns their local files."""
        async with self._sessions.begin() as session:
            entries = (
                await session.scalars(
                    select(UploadQueueEntry).where(
                        UploadQueueEntry.operation == QueueOperation.UPLOAD,
                        UploadQueueEntry.target_path == path,
                        UploadQueueEntry.status.in_(WITHDRAWABLE),
                    )
                )
            ).all()
            files = []
            for entry in entries:
                entry.status = QueueStatus.CANCELLED
                entry.last_error = reason
                if entry.local_path:
                    files.append(Path(entry.local_path))
            return files

    async def settle_parked(
        self, entry_id: int, owner_id: str | None, *, retry: bool
    ) -> tuple[bool, Path | None]:
        """Retry a parked entry (back to ``pending``, pushed in its old place in the order) or
        discard it (``cancelled``; returns its local file, now free to delete). ``owner_id``
        None is an admin, who may settle anyone's. False when there is no such parked entry."""
        async with self._sessions.begin() as session:
            entry = await session.get(UploadQueueEntry, entry_id)
            if entry is None or entry.status not in PARKED_STATES:
                return False, None
            if owner_id is not None and entry.owner_id != owner_id:
                return False, None
            if retry:
                entry.status = QueueStatus.PENDING
                entry.next_attempt_at = None
                return True, None
            entry.status = QueueStatus.CANCELLED
            entry.last_error = f"discarded after the NAS refused it: {entry.last_error}"
            return True, Path(entry.local_path) if entry.local_path else None

    async def reset_interrupted(self) -> int:
        """After a restart, entries caught mid-push go back to pending (the worker asks the NAS
        before sending again, so nothing lands twice)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(UploadQueueEntry)
                .where(UploadQueueEntry.status.in_((QueueStatus.UPLOADING, QueueStatus.VERIFYING)))
                .values(status=QueueStatus.PENDING)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def add_mutation(
        self,
        owner_id: str,
        owner_name: str,
        operation: QueueOperation,
        target: str,
        *,
        source: str | None = None,
    ) -> int:
        """Keep a folder, delete, rename or move made while the NAS slept, in order."""
        async with self._sessions.begin() as session:
            await _ensure_user(session, owner_id, owner_name)
            row = UploadQueueEntry(
                operation=operation,
                status=QueueStatus.PENDING,
                owner_id=owner_id,
                target_path=target,
                source_path=source,
            )
            session.add(row)
            await session.flush()
            return row.id

    async def folder_pending(self, path: str) -> bool:
        """Whether a folder at ``path`` exists only as queued work (a mkdir, or uploads in it)."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(UploadQueueEntry.id)
                .where(UploadQueueEntry.status.in_(OPEN_STATES))
                .where(
                    (
                        (UploadQueueEntry.operation == QueueOperation.MKDIR)
                        & (UploadQueueEntry.target_path == path)
                    )
                    | UploadQueueEntry.target_path.startswith(f"{path}/", autoescape=True)
                )
                .limit(1)
            )
        return found is not None

    async def open_entries_touching(self, folder: str) -> list[UploadQueueEntry]:
        """Open entries whose target or source is ``folder``, lies in it, or contains it; in
        queue order (the order they are replayed over a listing and on the NAS)."""
        query = select(UploadQueueEntry).where(UploadQueueEntry.status.in_(OPEN_STATES))
        if folder:
            prefix = f"{folder}/"
            ancestors_and_self = [folder, *(folder[:i] for i, c in enumerate(folder) if c == "/")]
            query = query.where(
                UploadQueueEntry.target_path.startswith(prefix, autoescape=True)
                | UploadQueueEntry.source_path.startswith(prefix, autoescape=True)
                | UploadQueueEntry.target_path.in_(ancestors_and_self)
                | UploadQueueEntry.source_path.in_(ancestors_and_self)
            )
        async with self._sessions() as session:
            rows = await session.scalars(query.order_by(UploadQueueEntry.id))
            return list(rows.all())


async def _ensure_user(session: AsyncSession, user_id: str, username: str) -> None:
    """Queue rows reference ``users``; a user only known from a token may have no row yet."""
    if await session.get(User, user_id) is None:
        session.add(User(id=user_id, username=username))
        await session.flush()
