"""The upload side of BaluPi, assembled: ingest, queue, owner tokens and the sync worker."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.config import Settings
from balupi.db.models import UploadQueueEntry
from balupi.logs import get_logger
from balupi.services.auth.tokens import TokenSigner
from balupi.services.cache.local import LocalFiles
from balupi.services.nas.link import NasLink
from balupi.services.nas.wake import NasWaker
from balupi.services.uploads.conflicts import Conflicts
from balupi.services.uploads.ingest import ChecksumLookup, UploadIngest
from balupi.services.uploads.local_copies import LocalCopies
from balupi.services.uploads.mobile_folders import MobileFolders, forward_pending
from balupi.services.uploads.policies import FolderPolicies
from balupi.services.uploads.queue import UploadQueue
from balupi.services.uploads.resumable import ResumableUploads
from balupi.services.uploads.tokens import OwnerTokens
from balupi.services.uploads.worker import SyncWorker, WorkerSettings

log = get_logger(__name__)


@dataclass
class Uploads:
    queue: UploadQueue
    ingest: UploadIngest
    tokens: OwnerTokens
    conflicts: Conflicts
    worker: SyncWorker
    resumable: ResumableUploads
    policies: FolderPolicies
    mobile_folders: MobileFolders
    copies: LocalCopies

    async def accepted(self, user_id: str, token: str) -> None:
        """An upload or change was acknowledged: keep the token, and push if the NAS is up."""
        self.tokens.remember(user_id, token)
        self.worker.kick()


async def start_uploads(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    link: NasLink,
    clock: Clock,
    stack: contextlib.AsyncExitStack,
    *,
    known_checksum: ChecksumLookup | None = None,
    local_files: LocalFiles | None = None,
    waker: NasWaker | None = None,
) -> Uploads:
    """Build the upload services and start the worker (in the background: start-up never waits
    for the queue, however long it is). ``local_files`` is the file cache's registry of files
    only the Pi has: pending uploads are served from it until the NAS holds them. ``waker``
    lets the worker wake the NAS once an upload has waited ``SYNC_MAX_WAIT``."""
    queue = UploadQueue(sessions)
    interrupted = await queue.reset_interrupted()
    if interrupted:
        log.info("pushes interrupted by a restart will be checked first", entries=interrupted)
    copies = LocalCopies(local_files)
    copies.serve(await queue.pending_files(), clock.now())
    signer = TokenSigner.from_settings(settings, clock)
    tokens = OwnerTokens(sessions, signer, clock)
    policies = FolderPolicies(settings.data_dir / "sync-policies.json")
    conflicts = Conflicts(sessions, clock, policies.policy_for)
    mobile_folders = MobileFolders(settings.data_dir / "nas-cache" / "mobile-folders.json", clock)
    worker = SyncWorker(
        sessions,
        link,
        tokens,
        conflicts,
        clock,
        WorkerSettings(max_wait_seconds=settings.sync_max_wait),
        waker=waker,
    )

    async def release(entry: UploadQueueEntry) -> None:
        if entry.local_path:
            await copies.release([Path(entry.local_path)])

    worker.on_synced(release)
    worker.add_pass_task(
        functools.partial(forward_pending, mobile_folders, lambda: link.client, tokens.token_for)
    )
    await stack.enter_async_context(worker)
    await remove_orphans(settings.uploads_dir, queue)
    resumable = ResumableUploads(settings.uploads_dir, queue, clock, copies=copies)
    await resumable.expire()
    ingest = UploadIngest(
        settings.uploads_dir, queue, known_checksum=known_checksum, copies=copies, clock=clock
    )
    return Uploads(
        queue=queue,
        ingest=ingest,
        tokens=tokens,
        conflicts=conflicts,
        worker=worker,
        resumable=resumable,
        policies=policies,
        mobile_folders=mobile_folders,
        copies=copies,
    )


async def remove_orphans(uploads_dir: Path, queue: UploadQueue) -> int:
    """Delete files under ``uploads_dir`` that no open queue row names: parts of uploads that
    were never acknowledged (a crash before the commit) and copies already synced."""
    keep = await queue.referenced_local_files()

    def _sweep() -> int:
        removed = 0
        for path in uploads_dir.iterdir():
            if path.is_file() and str(path) not in keep:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    removed = await anyio.to_thread.run_sync(_sweep)
    if removed:
        log.info("removed unacknowledged upload files", files=removed)
    return removed
