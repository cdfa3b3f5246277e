"""``SyncWorker``: pushes the queue to the NAS while it is awake, oldest first, exactly once.

It runs only while the ``NasLink`` says the NAS is online (a link listener starts a pass when it
comes online; new uploads and a slow timer start one too). Every wake, whoever caused it, is used
fully: a pass pushes everything due, including failed entries whose retry time has come, until
nothing due is left. Its requests are background work (``Purpose.BACKGROUND``): the request
gate refuses them while the link believes the NAS is not up, and marks them
``X-Sync-Trigger: auto``, so a NAS that fell asleep since the link last looked is not woken by
them. Either sign that the NAS sleeps (the gate's refusal, or BaluHost's scrubbed 503 to such
a request on a sync route) ends the pass: the entry waits for the next wake as it was, no
attempt counted (``met_a_sleeping_nas``).

It wakes the NAS itself only when an upload has waited too long: ``max_wait_seconds``
(``SYNC_MAX_WAIT``, 6 h; 0 = at once) after the oldest entry that a pass would push (held ones
excepted; a failed one counts from its retry time) was accepted, it asks the ``NasWaker`` for one
deliberate wake (at most one per ``forced_wake_gap_seconds``), and the pass that follows the
NAS coming online drains the whole queue. ``forced_wake_at()`` says when that will be (the sync
status shows it).

For each upload, as the owning user:

1. ask the NAS what it has at the path: the same SHA-256 already there (a push that completed
   before a crash) means done, nothing is sent again;
2. a remote version that changed since the Pi accepted the upload is a conflict (``Conflicts``);
3. otherwise stream the file up, then list again: only when the NAS lists the same SHA-256 at
   that path is the row ``synced`` and the local copy released.

Failures are of two kinds. Transient ones (the NAS gone, a timeout, a 5xx, anything unexpected)
go to ``failed`` with the reason and a retry time (exponential backoff with jitter); a refused
token goes to ``waiting_for_auth``. A change the NAS refuses for good (a 4xx other than 401, 408
and 429, or a state that rules it out, see ``offline_ops``) is parked as ``rejected``: shown in
the sync status and on the dashboard, never retried on its own; an upload's bytes stay on the Pi
until a newer upload to its path supersedes them. Nothing acknowledged is ever dropped.

Order: uploads to different paths go up a few at a time; the queue's order holds per path and
for every folder, delete, rename or move. The rule for a path's later entries: an entry that
will still be pushed (``failed`` and waiting for its retry, ``conflict``, ``waiting_for_auth``)
holds back every later entry touching its path (the same path, one inside it or one containing
it); a parked entry holds back nothing, since it will never reach the NAS and so cannot be
overtaken. A later entry then meets the NAS as it is (an upload creates its folders; a rename
of what is not there is parked in turn). No upload is lost by this: its bytes go only once the
NAS lists them, or when a newer upload to the same path replaces them.

Size: one module for one protocol. A pass, the order it keeps, each entry's push and the outcome it
records (synced, failed with its backoff, waiting for auth, parked, conflict) move the same queue
rows through one set of states, and the rules above can only be checked read together. What has a
concern of its own already lives beside it: the requests in ``nas_push.py``, conflicts in
``conflicts.py``, replayed changes in ``offline_ops.py``, the queue's states in ``queue.py``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock, utc_iso, wait_or_sleep
from balupi.db.models import (
    NasState,
    QueueOperation,
    QueueStatus,
    SyncDirection,
    SyncLogEntry,
    UploadQueueEntry,
)
from balupi.errors import NasError, NasRejected, NasUnreachable, NotAuthenticated
from balupi.lifecycle import Lifecycle
from balupi.logs import get_logger
from balupi.services.files.paths import UNSTORABLE_NAME, ancestors, storable
from balupi.services.nas.gate import Purpose, RefusedWhileAsleep, nas_purpose
from balupi.services.nas.link import LinkSnapshot, NasLink
from balupi.services.nas.wake import NasWaker
from balupi.services.uploads import nas_push
from balupi.services.uploads.conflicts import ConflictDecision, Conflicts
from balupi.services.uploads.offline_ops import RuledOut, replay_mutation
from balupi.services.uploads.queue import OPEN_STATES, RUNNABLE
from balupi.services.uploads.tokens import OwnerTokens

log = get_logger(__name__)

# 4xx answers about the moment, not the change: a token (401), a timeout (408), too early (425),
# a rate limit (429). Every other 4xx refuses the change itself, and repeating it cannot help.
TRANSIENT_CLIENT_ERRORS = frozenset({401, 408, 425, 429})
# What BaluHost answers a background (``X-Sync-Trigger: auto``) request to a sync route while it
# sleeps: 503 with its 5xx scrubber's body and no Retry-After (docs/compat/nas-sleep.md).
ASLEEP_DETAIL = "Internal server error"
ASLEEP_ERROR = "NAS asleep: waits for its next wake"
# States from which a forced wake may start (not booting, not unknown, not going down).
WAKEABLE = frozenset({NasState.SLEEPING, NasState.OFFLINE})


def fails_for_good(status_code: int) -> bool:
    """Whether the NAS's answer ``status_code`` refuses the change for good (park it)."""
    return 400 <= status_code < 500 and status_code not in TRANSIENT_CLIENT_ERRORS


def met_a_sleeping_nas(exc: Exception) -> bool:
    """Whether a push ended because the NAS sleeps, not because it failed: the gate did not
    send it (the link believes the NAS is not up), or BaluHost refused it as background work."""
    if isinstance(exc, NasUnreachable):
        return isinstance(exc.__cause__, RefusedWhileAsleep)
    return isinstance(exc, NasRejected) and exc.status_code == 503 and exc.detail == ASLEEP_DETAIL


def _paths_of(entry: UploadQueueEntry) -> list[str]:
    return [entry.target_path] + ([entry.source_path] if entry.source_path else [])


def _overlap(a: str, b: str) -> bool:
    """The same path, or one inside the other (a change to a folder touches what it holds)."""
    return a == b or a.startswith(f"{b}/") or b.startswith(f"{a}/")


class _HeldPaths:
    """Paths held back, asked ``_overlap`` in time proportional to a path's depth (a queue can
    hold thousands of failing entries; comparing each with each would not do)."""

    def __init__(self) -> None:
        self._paths: set[str] = set()
        self._above: set[str] = set()  # every folder containing a held path

    def add(self, path: str) -> None:
        self._paths.add(path)
        self._above.update(ancestors(path))

    def touches(self, path: str) -> bool:
        return (
            path in self._paths
            or path in self._above
            or any(folder in self._paths for folder in ancestors(path))
        )


Listener = Callable[[], Awaitable[None] | None]


@dataclass(frozen=True)
class WorkerSettings:
    parallel_uploads: int = 2
    batch: int = 50
    first_retry_seconds: float = 10.0
    max_retry_seconds: float = 3600.0
    idle_pass_seconds: float = 60.0
    # SYNC_MAX_WAIT: how long an accepted upload may stay only on the Pi (0: wake at once).
    max_wait_seconds: float = 6 * 3600.0
    # The least time between two wakes the worker forces (one that fails is not retried sooner).
    forced_wake_gap_seconds: float = 300.0


@dataclass(frozen=True)
class PushOutcome:
    status: QueueStatus
    error: str | None = None
    sent_bytes: int = 0
    asleep: bool = False  # the NAS sleeps: not an attempt, the entry waits as it was


class SyncWorker(Lifecycle):
    """Owns the push loop; ``kick()`` asks for a pass, ``aclose()`` ends it (a push cut short is
    set back to pending)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        link: NasLink,
        tokens: OwnerTokens,
        conflicts: Conflicts,
        clock: Clock,
        settings: WorkerSettings | None = None,
        *,
        waker: NasWaker | None = None,
    ) -> None:
        self._sessions = sessions
        self._link = link
        self._waker = waker
        self._tokens = tokens
        self._conflicts = conflicts
        self._clock = clock
        self.settings = settings or WorkerSettings()
        self._wanted = asyncio.Event()
        self._remove_listener: Callable[[], None] | None = None
        self._synced_listeners: list[Callable[[UploadQueueEntry], Awaitable[None]]] = []
        self._pass_tasks: list[Callable[[], Awaitable[None]]] = []
        self._failed_this_pass: list[UploadQueueEntry] = []
        self._asleep_this_pass = False
        self._last_forced_wake: float | None = None  # monotonic
        self.passes = 0
        self.passes_skipped = 0  # asked for while the NAS was not online: nothing sent
        self.forced_wakes = 0

    def add_pass_task(self, task: Callable[[], Awaitable[None]]) -> None:
        """More work owed to the NAS, done at the end of every pass while it is online."""
        self._pass_tasks.append(task)

    def on_synced(self, listener: Callable[[UploadQueueEntry], Awaitable[None]]) -> None:
        """Called with each row once the NAS has it, or once it was withdrawn (cancelled):
        either way the Pi's copy is no longer owed to the NAS."""
        self._synced_listeners.append(listener)

    async def _open(self) -> None:
        self._remove_listener = self._link.add_listener(self._on_link_change)
        self._spawn(self._run(), name="sync-worker")
        self.kick()

    async def _closing(self) -> None:
        if self._remove_listener is not None:
            self._remove_listener()

    def kick(self) -> None:
        """Ask for a pass (a new upload, the NAS came online); cheap, coalesces."""
        self._wanted.set()

    def _on_link_change(self, old: LinkSnapshot, new: LinkSnapshot) -> None:
        if new.state is NasState.ONLINE:
            self.kick()

    async def _run(self) -> None:
        wait = 0.0
        while True:
            await wait_or_sleep(self._clock, self._wanted, wait)
            self._wanted.clear()
            wait = self.settings.idle_pass_seconds
            try:
                if self._link.state is not NasState.ONLINE:
                    # Never poll a sleeping NAS for the queue; wake it only when an upload has
                    # waited too long.
                    self.passes_skipped += 1
                    wait = await self._wake_if_overdue()
                    continue
                await self.run_pass()
                if not self._asleep_this_pass:
                    wait = await self._seconds_to_next_retry()
            except Exception:
                log.exception("sync pass failed")

    async def forced_wake_at(self) -> datetime | None:
        """When the worker will wake the NAS for the oldest upload still only on the Pi (None:
        nothing it would push, or no way to wake the NAS). Held entries do not count: a wake
        cannot push them; a failed one counts from its retry time, not from its acceptance."""
        if self._waker is None:
            return None
        entries = await self._due_entries(at=datetime.max.replace(tzinfo=UTC))
        if not entries:
            return None
        oldest = min(max(e.created_at, e.next_attempt_at or e.created_at) for e in entries)
        return oldest + timedelta(seconds=self.settings.max_wait_seconds)

    async def _wake_if_overdue(self) -> float:
        """Wake the NAS once if an upload has waited ``max_wait_seconds``; returns the seconds
        until the worker should look again (at most ``idle_pass_seconds``)."""
        due = await self.forced_wake_at()
        if due is None or self._link.state not in WAKEABLE or self._waker is None:
            return self.settings.idle_pass_seconds
        seconds = (due - self._clock.now()).total_seconds()
        if self._last_forced_wake is not None:
            since = self._clock.monotonic() - self._last_forced_wake
            seconds = max(seconds, self.settings.forced_wake_gap_seconds - since)
        if seconds > 0:
            return min(max(seconds, 0.05), self.settings.idle_pass_seconds)
        self._last_forced_wake = self._clock.monotonic()
        self.forced_wakes += 1
        waited_since = due - timedelta(seconds=self.settings.max_wait_seconds)
        reason = f"sync max wait: an upload has waited since {utc_iso(waited_since)}"
        log.info("waking the nas for the sync queue", reason=reason)
        try:  # the link's listener starts the pass that drains the queue once it is online
            await self._waker.ensure_available(reason=reason)
        except NasError as exc:
            log.warning("forced wake for the sync queue failed", reason=str(exc))
        return self.settings.idle_pass_seconds

    async def _seconds_to_next_retry(self) -> float:
        """Until the earliest failed entry is due again (at most ``idle_pass_seconds``)."""
        async with self._sessions() as session:
            due = await session.scalar(
                select(func.min(UploadQueueEntry.next_attempt_at)).where(
                    UploadQueueEntry.status == QueueStatus.FAILED
                )
            )
        if due is None:
            return self.settings.idle_pass_seconds
        seconds = (due - self._clock.now()).total_seconds()
        return min(max(seconds, 0.05), self.settings.idle_pass_seconds)

    def _may_push(self) -> bool:
        return self._link.state is NasState.ONLINE and not self._asleep_this_pass

    async def run_pass(self) -> int:
        """Push everything due now, in order; returns how many entries reached a final state.
        Everything it sends is background work: it never wakes a NAS that fell asleep."""
        self.passes += 1
        self._failed_this_pass = []
        self._asleep_this_pass = False
        done = 0
        with nas_purpose(Purpose.BACKGROUND):
            while self._may_push():
                entries = await self._due_entries()
                if not entries:
                    break
                progressed = await self._push_in_order(entries)
                done += progressed
                if progressed == 0:
                    break
            for task in self._pass_tasks:
                if self._may_push():
                    await task()
        return done

    async def _due_entries(self, at: datetime | None = None) -> list[UploadQueueEntry]:
        """Entries to push now, in order. An open entry that is not due (failed and waiting for
        its retry, held by a conflict, waiting for a token) holds back every later entry
        touching the same path, so the NAS sees each path's changes in the order they were
        made; parked entries are not open and hold nothing. Held entries are read by page, so
        however many there are, due entries behind them are still found. ``at``: due by then."""
        now = at or self._clock.now()
        due: list[UploadQueueEntry] = []
        held = _HeldPaths()
        after = 0
        page = self.settings.batch * 4
        while len(due) < self.settings.batch:
            async with self._sessions() as session:
                rows = await session.scalars(
                    select(UploadQueueEntry)
                    .where(UploadQueueEntry.status.in_(OPEN_STATES), UploadQueueEntry.id > after)
                    .order_by(UploadQueueEntry.id)
                    .limit(page)
                )
                entries = list(rows.all())
            for entry in entries:
                paths = _paths_of(entry)
                ready = entry.status in RUNNABLE and (
                    entry.next_attempt_at is None or entry.next_attempt_at <= now
                )
                if not ready or any(held.touches(path) for path in paths):
                    for path in paths:
                        held.add(path)
                else:
                    due.append(entry)
                if len(due) >= self.settings.batch:
                    break
            if len(entries) < page:
                break
            after = entries[-1].id
        return due

    async def _push_in_order(self, entries: list[UploadQueueEntry]) -> int:
        """Uploads to distinct paths go up together; anything else waits for its turn. An entry
        that fails holds back the later entries of this pass that touch its path."""
        progressed = 0
        group: list[UploadQueueEntry] = []
        for entry in entries:
            if any(
                _overlap(p, f.target_path) for f in self._failed_this_pass for p in _paths_of(entry)
            ):
                continue
            parallel = entry.operation is QueueOperation.UPLOAD and all(
                other.target_path != entry.target_path for other in group
            )
            if not parallel or len(group) >= self.settings.parallel_uploads:
                progressed += await self._push_group(group)
                group = []
            group.append(entry)
            if entry.operation is not QueueOperation.UPLOAD:
                progressed += await self._push_group(group)
                group = []
            if not self._may_push():
                return progressed
        return progressed + await self._push_group(group)

    async def _push_group(self, group: list[UploadQueueEntry]) -> int:
        if not group:
            return 0
        outcomes = await asyncio.gather(*(self._push_one(entry) for entry in group))
        for entry, outcome in zip(group, outcomes, strict=True):
            if outcome.status in OPEN_STATES:  # still to come: later changes to its path wait
                self._failed_this_pass.append(entry)
        return sum(1 for outcome in outcomes if outcome.status not in OPEN_STATES)

    async def _push_one(self, entry: UploadQueueEntry) -> PushOutcome:
        token = await self._tokens.token_for(entry.owner_id)
        if token is None:
            outcome = PushOutcome(QueueStatus.WAITING_FOR_AUTH, "no usable token for the owner")
            await self._finish(entry, outcome, started=time.monotonic())
            return outcome
        started = time.monotonic()
        await self._set_status(entry, QueueStatus.UPLOADING)
        try:
            outcome = await self._attempt(entry, token)
        except asyncio.CancelledError:
            # Stopping mid-push: back to pending now (start-up would do it too), asking the
            # NAS first next time, as after a crash.
            await asyncio.shield(self._set_status(entry, QueueStatus.PENDING))
            raise
        except Exception as exc:  # whatever ends a push, the row never stays ``uploading``
            outcome = await self._failure(entry, token, exc)
        if outcome.asleep:
            self._asleep_this_pass = True  # the rest of the queue waits for the next wake too
        await self._finish(entry, outcome, started=started)
        return outcome

    async def _failure(self, entry: UploadQueueEntry, token: str, exc: Exception) -> PushOutcome:
        """What a push that raised ``exc`` leaves the entry as (see the module docstring)."""
        if met_a_sleeping_nas(exc):
            waiting = QueueStatus.FAILED if entry.attempts else QueueStatus.PENDING
            return PushOutcome(waiting, ASLEEP_ERROR, asleep=True)
        if isinstance(exc, NotAuthenticated):
            self._tokens.forget(entry.owner_id, token)
            return PushOutcome(QueueStatus.WAITING_FOR_AUTH, exc.detail)
        if isinstance(exc, NasUnreachable):
            await self._link.report_unreachable(f"sync push: {exc}")
            return PushOutcome(QueueStatus.FAILED, str(exc))
        if isinstance(exc, RuledOut):
            return PushOutcome(QueueStatus.REJECTED, str(exc.detail))
        if isinstance(exc, NasRejected):
            status = QueueStatus.REJECTED if fails_for_good(exc.status_code) else QueueStatus.FAILED
            return PushOutcome(status, f"NAS answered {exc.status_code}: {exc.detail}")
        if isinstance(exc, OSError):
            return PushOutcome(QueueStatus.FAILED, f"Pi file error: {exc.strerror or 'unknown'}")
        log.exception("sync push failed unexpectedly", path=entry.target_path, exc_info=exc)
        return PushOutcome(QueueStatus.FAILED, "unexpected error during the push (see the log)")

    async def _attempt(self, entry: UploadQueueEntry, token: str) -> PushOutcome:
        if not storable(entry.target_path):  # accepted before names were checked at the door
            raise RuledOut(UNSTORABLE_NAME)
        if entry.operation is not QueueOperation.UPLOAD:
            await replay_mutation(self._link.client, token, entry)
            return PushOutcome(QueueStatus.SYNCED)
        client = self._link.client
        remote = await nas_push.remote_file(client, token, entry.target_path)
        if remote is not None and remote.size == entry.size:
            remote = await nas_push.with_checksum(client, token, remote)
        if remote is not None and remote.checksum == entry.sha256:
            return PushOutcome(QueueStatus.SYNCED)  # already there: a push that finished earlier
        decision = await self._conflicts.before_upload(entry, remote)
        if decision is ConflictDecision.DROP:
            return PushOutcome(QueueStatus.CANCELLED, "conflict: the NAS's version kept (skip)")
        if decision is ConflictDecision.HOLD:
            return PushOutcome(QueueStatus.CONFLICT, "conflict: waiting for a decision")
        target = await self._conflicts.upload_target(entry, decision)
        await self._mark_push_started(entry)
        await nas_push.push_file(client, token, target, Path(entry.local_path or ""))
        await self._set_status(entry, QueueStatus.VERIFYING)
        landed = await nas_push.remote_file(client, token, target)
        if landed is None or landed.checksum != entry.sha256:
            seen = landed.checksum if landed else "nothing"
            return PushOutcome(QueueStatus.FAILED, f"NAS lists {seen} at {target} after the upload")
        if target != entry.target_path:
            await self._conflicts.record_kept_both(entry, remote, target)
        return PushOutcome(QueueStatus.SYNCED, sent_bytes=entry.size or 0)

    async def _mark_push_started(self, entry: UploadQueueEntry) -> None:
        """Durably note that bytes are about to go out (before the first of them does)."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            row = await session.get(UploadQueueEntry, entry.id)
            if row is not None:
                row.status = QueueStatus.UPLOADING
                row.push_started_at = now
        entry.status = QueueStatus.UPLOADING
        entry.push_started_at = now

    async def _set_status(self, entry: UploadQueueEntry, status: QueueStatus) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(UploadQueueEntry, entry.id)
            if row is not None:
                row.status = status
        entry.status = status

    async def _finish(
        self, entry: UploadQueueEntry, outcome: PushOutcome, *, started: float
    ) -> None:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            row = await session.get(UploadQueueEntry, entry.id)
            if row is None:
                return
            row.status = outcome.status
            if outcome.asleep:  # not an attempt: its error and retry time stay as they were
                entry.status = outcome.status
                log.info("nas asleep: push waits", path=entry.target_path)
                return
            row.last_error = outcome.error
            if outcome.status is QueueStatus.SYNCED:
                row.synced_at = now
                row.next_attempt_at = None
            elif outcome.status is QueueStatus.FAILED:
                row.attempts += 1
                row.next_attempt_at = now + self._backoff(row.attempts)
            elif outcome.status is QueueStatus.REJECTED:
                row.attempts += 1
                row.next_attempt_at = None  # parked: only a person or a newer upload moves it
            session.add(
                SyncLogEntry(
                    at=now,
                    direction=SyncDirection.PUSH,
                    operation=row.operation,
                    path=row.target_path,
                    queue_id=row.id,
                    bytes=outcome.sent_bytes,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    ok=outcome.status is QueueStatus.SYNCED,
                    detail=outcome.error,
                )
            )
        if outcome.status is QueueStatus.CANCELLED:
            for listener in self._synced_listeners:
                await listener(entry)
        if outcome.status is QueueStatus.SYNCED:
            log.info("synced", path=entry.target_path, operation=entry.operation.value)
            for listener in self._synced_listeners:
                await listener(entry)
        else:
            log.info(
                "not synced",
                path=entry.target_path,
                status=outcome.status.value,
                error=outcome.error,
            )

    def _backoff(self, attempts: int) -> timedelta:
        base = min(
            self.settings.first_retry_seconds * 2 ** (attempts - 1), self.settings.max_retry_seconds
        )
        return timedelta(seconds=base * random.uniform(0.5, 1.0))
