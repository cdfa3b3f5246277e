"""Conflicts: the same path changed on the Pi and on the NAS since the version the Pi last saw.

Hashes are compared first: identical content is no conflict at all. A remote version counts as
changed when its checksum differs from the one the Pi knew when it accepted the upload
(``base_checksum``), or, when the Pi knew none, when it was modified after the upload was accepted.
The default policy is "server wins": the NAS version stays and the local one is uploaded beside it
as ``name (conflict YYYY-MM-DD HHMMSS).ext``. Per folder it may be ``ask`` (keep it for a person),
``keep_both`` (the same as the default), ``overwrite`` or ``skip``.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.db.models import Conflict, ConflictStatus, QueueStatus, UploadQueueEntry
from balupi.errors import BaluPiError
from balupi.services.files.paths import join, name_of, parent_of
from balupi.services.uploads.nas_push import RemoteFile


class ConflictPolicy(enum.StrEnum):
    SERVER_WINS = "server_wins"  # the default: keep the NAS's version, upload ours beside it
    KEEP_BOTH = "keep_both"
    OVERWRITE = "overwrite"
    SKIP = "skip"
    ASK = "ask"


class ConflictDecision(enum.Enum):
    UPLOAD = "upload"  # no conflict, or overwrite
    KEEP_BOTH = "keep_both"
    DROP = "drop"  # skip: the NAS's version stays, the Pi's is withdrawn
    HOLD = "hold"  # ask: the entry waits for a person


PolicyLookup = Callable[[str], Awaitable[ConflictPolicy]]
# How far the NAS's clock may run behind the Pi's before a push's own write looks older.
CLOCK_SKEW = timedelta(seconds=2)


async def default_policy(path: str) -> ConflictPolicy:
    return ConflictPolicy.SERVER_WINS


def conflict_copy_name(path: str, moment: datetime) -> str:
    """``a/b/photo.jpg`` → ``a/b/photo (conflict 2026-11-26 221500).jpg``."""
    name = name_of(path)
    stem, dot, extension = name.rpartition(".")
    if not stem:  # no extension (or a dotfile): the whole name is the stem
        stem, dot, extension = name, "", ""
    label = moment.strftime("%Y-%m-%d %H%M%S")
    return join(parent_of(path), f"{stem} (conflict {label}){dot}{extension}")


def _parse(moment: str | None) -> datetime | None:
    if not moment:
        return None
    try:
        return datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None


class Conflicts:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        policy_for: PolicyLookup = default_policy,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._policy_for = policy_for

    @staticmethod
    def changed_remotely(entry: UploadQueueEntry, remote: RemoteFile) -> bool:
        modified = _parse(remote.modified_at)
        if (
            entry.push_started_at is not None
            and modified is not None
            and modified >= entry.push_started_at - CLOCK_SKEW
        ):
            return False  # written since our own push began: the remains of that push
        if entry.base_checksum is not None:
            return remote.checksum != entry.base_checksum
        return modified is not None and modified > entry.created_at

    async def before_upload(
        self, entry: UploadQueueEntry, remote: RemoteFile | None
    ) -> ConflictDecision:
        if remote is None or remote.checksum == entry.sha256:
            return ConflictDecision.UPLOAD
        if not self.changed_remotely(entry, remote):
            return ConflictDecision.UPLOAD  # a plain overwrite, as the NAS itself does
        policy = await self._policy_for(entry.target_path)
        if policy is ConflictPolicy.OVERWRITE:
            await self._record(entry, remote, ConflictStatus.RESOLVED, policy, None)
            return ConflictDecision.UPLOAD
        if policy is ConflictPolicy.SKIP:
            await self._record(entry, remote, ConflictStatus.RESOLVED, policy, None)
            return ConflictDecision.DROP
        if policy is ConflictPolicy.ASK:
            await self._record(entry, remote, ConflictStatus.OPEN, policy, None)
            return ConflictDecision.HOLD
        return ConflictDecision.KEEP_BOTH

    async def upload_target(self, entry: UploadQueueEntry, decision: ConflictDecision) -> str:
        if decision is ConflictDecision.KEEP_BOTH:
            return conflict_copy_name(entry.target_path, self._clock.now())
        return entry.target_path

    async def record_kept_both(
        self, entry: UploadQueueEntry, remote: RemoteFile | None, copy_path: str
    ) -> None:
        policy = await self._policy_for(entry.target_path)
        await self._record(entry, remote, ConflictStatus.RESOLVED, policy, copy_path)

    async def _record(
        self,
        entry: UploadQueueEntry,
        remote: RemoteFile | None,
        status: ConflictStatus,
        policy: ConflictPolicy,
        copy_path: str | None,
    ) -> None:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            session.add(
                Conflict(
                    path=entry.target_path,
                    queue_id=entry.id,
                    status=status,
                    local_sha256=entry.sha256,
                    local_size=entry.size,
                    remote_sha256=remote.checksum if remote else None,
                    remote_size=remote.size if remote else None,
                    remote_mtime=_parse(remote.modified_at) if remote else None,
                    detected_at=now,
                    resolved_at=now if status is ConflictStatus.RESOLVED else None,
                    resolution=policy.value,
                    conflict_copy_path=copy_path,
                    owner_id=entry.owner_id,
                )
            )


class Resolution(enum.StrEnum):
    KEEP_SERVER = "keep_server"  # drop the Pi's version
    KEEP_LOCAL = "keep_local"  # overwrite the NAS's version
    KEEP_BOTH = "keep_both"  # upload the Pi's version beside it


class ConflictNotFound(BaluPiError):
    """No open conflict by that id that the caller may decide: another user's is "not found" too,
    so its existence is not revealed."""

    code = "not_found"  # what the dashboard was answered before the class had a code of its own
    status_code = 404
    detail = "Open conflict not found"

    def __init__(self, conflict_id: int) -> None:
        super().__init__()
        self.conflict_id = conflict_id


# SQLite's INTEGER range: an id outside it names no row (and would overflow the driver).
_SQLITE_IDS = range(-(2**63), 2**63)


def conflict_public(conflict: Conflict) -> dict[str, object]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat().replace("+00:00", "Z") if moment else None

    return {
        "id": conflict.id,
        "path": conflict.path,
        "status": conflict.status.value,
        "local_sha256": conflict.local_sha256,
        "local_size": conflict.local_size,
        "remote_sha256": conflict.remote_sha256,
        "remote_size": conflict.remote_size,
        "remote_modified_at": iso(conflict.remote_mtime),
        "detected_at": iso(conflict.detected_at),
        "resolved_at": iso(conflict.resolved_at),
        "resolution": conflict.resolution,
        "conflict_copy_path": conflict.conflict_copy_path,
    }


async def list_conflicts(
    sessions: async_sessionmaker[AsyncSession],
    *,
    owner_id: str | None,
    open_only: bool = False,
) -> list[Conflict]:
    """The latest conflicts: ``owner_id``'s own, or everyone's when it is None (an admin)."""
    query = select(Conflict).order_by(Conflict.id.desc()).limit(500)
    if open_only:
        query = query.where(Conflict.status == ConflictStatus.OPEN)
    if owner_id is not None:
        query = query.where(Conflict.owner_id == owner_id)
    async with sessions() as session:
        return list((await session.scalars(query)).all())


async def resolve_conflict(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    conflict_id: int,
    resolution: Resolution,
    *,
    owner_id: str | None,
) -> tuple[Conflict, Path | None]:
    """Decide an open conflict of ``owner_id``'s (any, when None: an admin); the queue entry it
    holds back goes on, or is withdrawn (then the Pi's copy it no longer needs is returned, to
    be released)."""
    if conflict_id not in _SQLITE_IDS:
        raise ConflictNotFound(conflict_id)
    released: Path | None = None
    now = clock.now()
    async with sessions.begin() as session:
        conflict = await session.get(Conflict, conflict_id)
        if (
            conflict is None
            or conflict.status is not ConflictStatus.OPEN
            or (owner_id is not None and conflict.owner_id != owner_id)
        ):
            raise ConflictNotFound(conflict_id)
        entry = (
            await session.get(UploadQueueEntry, conflict.queue_id) if conflict.queue_id else None
        )
        conflict.status = ConflictStatus.RESOLVED
        conflict.resolved_at = now
        conflict.resolution = resolution.value
        if entry is not None:
            if resolution is Resolution.KEEP_SERVER:
                entry.status = QueueStatus.CANCELLED
                entry.last_error = "conflict resolved: the NAS's version kept"
                released = Path(entry.local_path) if entry.local_path else None
            else:
                if resolution is Resolution.KEEP_BOTH:
                    entry.target_path = conflict_copy_name(entry.target_path, now)
                    conflict.conflict_copy_path = entry.target_path
                # The NAS's version as it was at the decision is what this change knowingly
                # replaces: its hash when known, and in any case the moment of the decision.
                entry.base_checksum = conflict.remote_sha256
                entry.created_at = now
                entry.status = QueueStatus.PENDING
                entry.next_attempt_at = None
        return conflict, released
