"""``GET /api/files/sync/status``: what the Pi still owes the NAS, and whether it may go off.

The counts are the whole queue's, for everyone (whether the Pi may be switched off depends on
every user's work). The listed entries (``failures``: failing, waiting for a login, or parked
because the NAS refused them for good) name paths and errors, so a user sees only their own;
an admin sees everyone's.

``forced_wake_at`` is when BaluPi will wake a sleeping NAS for the oldest upload still only on
the Pi (``SYNC_MAX_WAIT`` after it was accepted), so a user knows how long it may stay there;
null when nothing is waiting or BaluPi cannot wake the NAS.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock, utc_iso
from balupi.db.models import Conflict, ConflictStatus, QueueStatus, UploadQueueEntry
from balupi.services.uploads.queue import PARKED_STATES, UploadQueue
from balupi.services.uploads.worker import SyncWorker

MAX_FAILURES_LISTED = 50
LISTED_STATES = (QueueStatus.FAILED, QueueStatus.WAITING_FOR_AUTH, *PARKED_STATES)


async def sync_status(
    queue: UploadQueue,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    owner_id: str | None,
    worker: SyncWorker | None = None,
) -> dict[str, Any]:
    """The status as ``owner_id`` may see it (None: an admin, who sees every entry)."""
    totals = await queue.totals()
    listed = select(UploadQueueEntry).where(UploadQueueEntry.status.in_(LISTED_STATES))
    if owner_id is not None:
        listed = listed.where(UploadQueueEntry.owner_id == owner_id)
    async with sessions() as session:
        last_synced = await session.scalar(select(func.max(UploadQueueEntry.synced_at)))
        by_status = dict(
            (
                await session.execute(
                    select(UploadQueueEntry.status, func.count()).group_by(UploadQueueEntry.status)
                )
            ).all()
        )
        failures = (
            await session.scalars(listed.order_by(UploadQueueEntry.id).limit(MAX_FAILURES_LISTED))
        ).all()
        open_conflicts = await session.scalar(
            select(func.count()).select_from(Conflict).where(Conflict.status == ConflictStatus.OPEN)
        )
    now = clock.now()
    # Only open entries can be due: an empty queue (the usual poll) skips the worker's scan.
    forced_wake_at = (
        await worker.forced_wake_at() if worker is not None and totals.open_entries else None
    )
    return {
        "pending_count": totals.open_entries,
        "pending_bytes": totals.pending_bytes,
        "oldest_pending_age_seconds": (
            int((now - totals.oldest_at).total_seconds()) if totals.oldest_at else None
        ),
        "last_successful_sync": utc_iso(last_synced) if last_synced else None,
        "by_status": {status.value: int(by_status.get(status, 0)) for status in QueueStatus},
        # Everyone's, like the other counts; ``failures`` lists the caller's own.
        "failure_count": sum(int(by_status.get(status, 0)) for status in LISTED_STATES),
        "parked_count": totals.parked_entries,
        "failures": [
            {
                "id": entry.id,
                "path": entry.target_path,
                "operation": entry.operation.value,
                "status": entry.status.value,
                "attempts": entry.attempts,
                "last_error": entry.last_error,
                "next_attempt_at": utc_iso(entry.next_attempt_at)
                if entry.next_attempt_at
                else None,
            }
            for entry in failures
        ],
        "open_conflicts": int(open_conflicts or 0),
        "forced_wake_at": utc_iso(forced_wake_at) if forced_wake_at else None,
        "sync_max_wait_seconds": worker.settings.max_wait_seconds if worker else None,
        # Everything the Pi acknowledged is on the NAS, or refused by it with nothing of the
        # Pi's own waiting on it: pulling the Pi's plug loses nothing. A parked upload's bytes
        # are only on the Pi, so it keeps this false.
        "safe_to_power_off": totals.open_entries == 0 and totals.parked_uploads == 0,
    }
