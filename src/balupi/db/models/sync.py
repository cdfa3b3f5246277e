"""Work the Pi owes the NAS (the queue), what it did (the log), and what it could not decide.

The queue holds uploads *and* the folder, delete, rename and move operations made while the
NAS slept, in one table, because their order matters across kinds: an upload followed by a
rename of the same file must reach the NAS in that order. ``id`` is that order.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from balupi.db.models.base import Base, CreatedUpdatedMixin, str_enum, utc_now
from balupi.db.models.files import PATH_LENGTH, SHA256_HEX_LENGTH


class QueueOperation(enum.StrEnum):
    """What a queue entry asks of the NAS."""

    UPLOAD = "upload"
    MKDIR = "mkdir"
    DELETE = "delete"
    RENAME = "rename"
    MOVE = "move"


class QueueStatus(enum.StrEnum):
    """Where a queue entry stands: pending → uploading → verifying → synced, or a side state."""

    PENDING = "pending"
    UPLOADING = "uploading"
    VERIFYING = "verifying"
    SYNCED = "synced"
    # Retried with backoff at ``next_attempt_at``; never dropped.
    FAILED = "failed"
    CONFLICT = "conflict"
    # No usable token for the owner yet; resumes when the owner next shows up.
    WAITING_FOR_AUTH = "waiting_for_auth"
    # Withdrawn before it reached the NAS (e.g. a pending upload deleted while offline).
    CANCELLED = "cancelled"
    # The NAS refused this change for good (a 4xx, or a state that rules it out): parked,
    # shown as a failure, never retried on its own and holding nothing back; an upload's
    # bytes stay on the Pi.
    REJECTED = "rejected"


class SyncDirection(enum.StrEnum):
    """Push: Pi → NAS. Pull: NAS → Pi."""

    PUSH = "push"
    PULL = "pull"


class ConflictStatus(enum.StrEnum):
    """An open conflict waits for a policy or a person; a resolved one records the outcome."""

    OPEN = "open"
    RESOLVED = "resolved"


class UploadQueueEntry(CreatedUpdatedMixin, Base):
    """One operation to replay on the NAS, as the user who made it.

    ``target_path`` is the NAS path the operation produces (the file for an upload, the new
    path for a rename or move, the folder for mkdir, the victim for delete); ``source_path``
    is the old path of a rename or move. An upload's bytes wait at ``local_path`` (under
    ``DATA_DIR/uploads``) with their ``size`` and ``sha256``; ``base_checksum`` is the NAS's
    checksum of ``target_path`` when the change was made, so a change on both sides can be told
    from a plain overwrite. The row refers to its owner without cascading: a user row cannot be
    deleted while it still has work queued, so no acknowledged byte is orphaned.
    """

    __tablename__ = "upload_queue"
    # AUTOINCREMENT: ids never reused, so ``ORDER BY id`` stays the order work was accepted.
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    operation: Mapped[QueueOperation] = mapped_column(
        str_enum(QueueOperation), default=QueueOperation.UPLOAD
    )
    status: Mapped[QueueStatus] = mapped_column(str_enum(QueueStatus), default=QueueStatus.PENDING)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    target_path: Mapped[str] = mapped_column(String(PATH_LENGTH), index=True)
    source_path: Mapped[str | None] = mapped_column(String(PATH_LENGTH))
    local_path: Mapped[str | None] = mapped_column(String(PATH_LENGTH))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH))
    mime_type: Mapped[str | None] = mapped_column(String(255))
    base_checksum: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[datetime | None]
    # When the last push began: a remote file changed after it may be this push's own partial
    # write (cut short by a crash or a vanished NAS), not another client's edit.
    push_started_at: Mapped[datetime | None]


class SyncLogEntry(Base):
    """One push or pull that happened (or failed), with its size and duration."""

    __tablename__ = "sync_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    direction: Mapped[SyncDirection] = mapped_column(str_enum(SyncDirection))
    operation: Mapped[QueueOperation] = mapped_column(str_enum(QueueOperation))
    path: Mapped[str] = mapped_column(String(PATH_LENGTH))
    queue_id: Mapped[int | None] = mapped_column(
        ForeignKey("upload_queue.id", ondelete="SET NULL"), index=True
    )
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_ms: Mapped[int] = mapped_column(default=0)
    ok: Mapped[bool]
    detail: Mapped[str | None] = mapped_column(Text)


class Conflict(Base):
    """The same path changed on the Pi and on the NAS since the version the Pi last saw.

    ``local_*`` describe the Pi's version, ``remote_*`` the NAS's. ``resolution`` names the
    policy applied (``server_wins``, ``keep_both``, ``overwrite``, ``skip``);
    ``conflict_copy_path`` is where the local version went when both were kept. ``owner_id`` is
    the user whose change met the NAS's version: only they (and admins) may see or decide it.
    """

    __tablename__ = "conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(PATH_LENGTH))
    queue_id: Mapped[int | None] = mapped_column(
        ForeignKey("upload_queue.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[ConflictStatus] = mapped_column(
        str_enum(ConflictStatus), default=ConflictStatus.OPEN, index=True
    )
    local_sha256: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH))
    local_size: Mapped[int | None] = mapped_column(BigInteger)
    remote_sha256: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH))
    remote_size: Mapped[int | None] = mapped_column(BigInteger)
    remote_mtime: Mapped[datetime | None]
    detected_at: Mapped[datetime] = mapped_column(default=utc_now)
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(32))
    conflict_copy_path: Mapped[str | None] = mapped_column(String(PATH_LENGTH))
    # No foreign key: the record of a decision may outlive the user row; None (a conflict from
    # before owners were kept) is visible to admins only.
    owner_id: Mapped[str | None] = mapped_column(String(64), index=True)
