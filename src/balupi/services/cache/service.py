"""``FileCache``: downloads answered from the SSD when possible, from the NAS when needed.

The order of questions for ``GET /api/files/download/{path}`` (issue 4 item 3):

1. Is the path valid and may this user see it (``Viewer``)? ``..`` is 400. A path the Pi's rules
   refuse is 403 while the NAS sleeps; while it is awake the request goes to the NAS, which
   knows shares the Pi may not (the NAS's answer is passed on, nothing is cached).
2. Is it a pending upload (``LocalFiles``)? Served from the Pi: the NAS does not have it yet.
3. Is it cached? While the NAS is awake an entry older than ``revalidate_seconds`` is checked
   first (``freshness.py``); a stale one is fetched again, one gone from the NAS is dropped
   (404). Never while it sleeps: then the cached copy is served, and counted as served while
   the NAS was down, so the outage stays visible in the stats.
4. Otherwise a miss (``filling.py``): the NAS is woken if the request may wake it (a person
   waits, not an automatic sync), else 503 + Retry-After; then one fill per file. A ``Range`` on
   a miss, and a file the cache does not admit, are streamed from the NAS uncached.

Clients (BaluApp's preview) write a space as ``+`` (docs/compat/clients.md §4 A3): a path that is
not found as written is tried once more with ``+`` read as a space.

Background work (flushing access counts, checking the budget, verifying a slice of the store)
runs in one task owned here, every ``flush_seconds``.

Size: ``FileCache`` is the one façade that the cache's routes and the listing service's hooks call
(downloads, pins, integrity, stats); the parts with logic of their own live beside it
(``filling.py``, ``freshness.py``, ``eviction.py``, ``catalog.py``, ``store.py``, ``stats.py``).
What stays here is each operation's order of checks over the shared catalog, store and link, which
the list above describes and which reads best in one place. Pins and verification are the next seams
if it grows.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from datetime import datetime
from email.utils import formatdate

import anyio

from balupi.clock import Clock
from balupi.db.models import NasState
from balupi.errors import AccessDenied, NasAsleep, NasRejected, NasUnreachable
from balupi.lifecycle import Lifecycle
from balupi.logs import get_logger
from balupi.services.auth import AuthenticatedUser
from balupi.services.cache.catalog import Catalog, Entry
from balupi.services.cache.eviction import Evictor
from balupi.services.cache.fetch import FillFailed
from balupi.services.cache.filling import Filler
from balupi.services.cache.freshness import Freshness, Verdict
from balupi.services.cache.local import LocalFile, LocalFiles
from balupi.services.cache.model import (
    CachedBytes,
    CacheTuning,
    Delivery,
    FileDelivery,
    NotCacheable,
    Pin,
    RangeHeaders,
    StreamDelivery,
    VerifyReport,
    read_size,
)
from balupi.services.cache.origin import NasOrigin
from balupi.services.cache.policies import Policy, StoredEntry
from balupi.services.cache.sources import ListingSource, ViewerSource
from balupi.services.cache.stats import CacheCounters, CacheReport, WarmReport, build_report
from balupi.services.cache.store import ContentStore
from balupi.services.files.paths import Viewer, name_of, normalize_path
from balupi.services.nas.gate import Purpose, current_purpose, nas_purpose
from balupi.services.nas.link import NasLink
from balupi.services.nas.wake import NasWaker
from balupi.tasks import TaskOwner

log = get_logger(__name__)

NOT_FOUND = "File not found"
BACKGROUND_TRIGGERS = frozenset({"auto", "scheduled"})  # X-Sync-Trigger values that never wake


class FileCache(Lifecycle):
    """The SSD cache of NAS files; ``start`` before use, ``stop`` at shutdown."""

    def __init__(
        self,
        *,
        store: ContentStore,
        catalog: Catalog,
        link: NasLink,
        waker: NasWaker,
        clock: Clock,
        policy: Policy,
        listings: ListingSource,
        viewers: ViewerSource,
        tuning: CacheTuning,
        local: LocalFiles | None = None,
        dirty_bytes: Callable[[], int] | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.local = local or LocalFiles()
        self.tuning = tuning  # read at each decision: may be replaced while running
        self.counters = CacheCounters()
        self.last_warm: WarmReport | None = None  # set by the warmer (``warming.py``)
        self._link = link
        self._waker = waker
        self._clock = clock
        self._policy = policy
        self._viewers = viewers
        self._dirty_bytes = dirty_bytes or self.local.dirty_bytes
        origin = NasOrigin(link)
        self._owned_fills = TaskOwner("cache-fills")
        self.evictor = Evictor(
            store, catalog, policy, self.counters, lambda: self.tuning, self._busy
        )
        self._freshness = Freshness(listings, origin, clock, lambda: self.tuning)
        self._filler = Filler(
            store=store,
            catalog=catalog,
            evictor=self.evictor,
            origin=origin,
            listings=listings,
            policy=policy,
            counters=self.counters,
            clock=clock,
            tasks=self._owned_fills,
        )
        self._last_verify = clock.monotonic()

    # -- lifecycle -----------------------------------------------------------------------------
    async def _open(self) -> None:
        """Prepare the store, load the catalog (dropping rows without bytes), prime the policy."""
        await anyio.to_thread.run_sync(self.store.prepare)
        present = await anyio.to_thread.run_sync(self.store.blobs)
        loaded = await self.catalog.load(present)
        self._policy.restore(
            StoredEntry(
                e.path,
                e.size,
                e.hits,
                (e.last_access_at or e.created_at).timestamp(),
                e.created_at.timestamp(),
            )
            for e in loaded
        )
        orphans = [sha for sha in present if self.catalog.references(sha) == 0]
        for sha in orphans:  # bytes whose row was never written (a crash between the two)
            await anyio.to_thread.run_sync(self.store.delete, sha)
        await self.evictor.refresh_budget()
        self._spawn(self._background(), name="cache-background")
        log.info("cache ready", entries=len(self.catalog), bytes=self.catalog.stored_bytes)

    async def _close(self) -> None:
        """The background loop has ended: fills cancelled, eviction stopped, counts flushed."""
        await self._filler.cancel_all()
        await self._owned_fills.aclose()  # fills that had not started copying yet
        await self.evictor.aclose()
        await self.catalog.flush()

    @property
    def fills_in_flight(self) -> int:
        return len(self._filler.flights)

    async def abandon(self, path: str) -> None:
        """Stop the fill of ``path`` if nobody reads it (a warming burst cut short by sleep)."""
        fill = self._filler.flights.get(path)
        if fill is not None and fill.readers == 0:
            await fill.cancel()

    def _busy(self) -> set[str]:
        """Paths eviction must leave alone besides pins and open files: fills, pending uploads."""
        return {fill.path for fill in self._filler.flights.active()} | set(self.local.paths())

    # -- downloads -----------------------------------------------------------------------------
    async def download(
        self,
        user: AuthenticatedUser,
        raw_path: str,
        *,
        byte_range: str | None = None,
        if_range: str | None = None,
        sync_trigger: str | None = None,
    ) -> Delivery:
        """What to send for a download of ``raw_path`` by ``user`` (see the module docstring).

        Raises ``InvalidPath``/``AccessDenied``, ``NasRejected`` (the NAS's own 404, 403 …)
        and ``NasAsleep``/``NasUnreachable`` (503 + Retry-After).
        """
        viewer = await self._viewers.viewer_for(user)
        ranges = RangeHeaders(byte_range, if_range)
        candidates = [raw_path]
        if "+" in raw_path:
            candidates.append(raw_path.replace("+", " "))
        for attempt, candidate in enumerate(candidates, start=1):
            last = attempt == len(candidates)
            try:
                delivery = await self._download(user, viewer, candidate, ranges, sync_trigger)
            except NasRejected as exc:
                if exc.status_code == 404 and not last:
                    continue
                raise
            if isinstance(delivery, StreamDelivery) and delivery.status == 404 and not last:
                await delivery.close()
                continue
            return delivery
        raise AssertionError("unreachable: the last candidate returns or raises")

    async def _download(
        self,
        user: AuthenticatedUser,
        viewer: Viewer,
        raw_path: str,
        ranges: RangeHeaders,
        sync_trigger: str | None,
    ) -> Delivery:
        path = normalize_path(raw_path)
        if not path:
            raise NasRejected(404, NOT_FOUND)  # the root is a directory
        online = self._link.state is NasState.ONLINE
        if not viewer.can_see(path):
            if not online:
                raise AccessDenied()
            return await self._filler.passthrough(user, path, ranges)  # the NAS knows shares
        local = self.local.get(path)
        if local is not None:
            return await self._local(path, local)
        entry = await self._current_entry(user, path, online)
        if entry is not None:
            hit = await self._hit(entry, online)
            if hit is not None:
                return hit
        await self._require_online(path, sync_trigger)
        # The link was online when checked, but a miss may wait for a copy turn before it asks
        # the NAS: a client's background request goes as background work, which the gate holds
        # back from a NAS that fell asleep meanwhile (and marks, so BaluHost does not wake).
        purpose = Purpose.BACKGROUND if _nobody_waits(sync_trigger) else current_purpose()
        with nas_purpose(purpose):
            if ranges.range:
                return await self._filler.passthrough(user, path, ranges)
            return await self._filler.miss(user, path)

    async def _current_entry(
        self, user: AuthenticatedUser, path: str, online: bool
    ) -> Entry | None:
        """The cached entry for ``path`` if it may be served (revalidated if due), else None."""
        entry = self.catalog.get(path)
        if entry is None or not online or not self._freshness.due(entry):
            return entry
        self.counters.revalidations += 1
        verdict = await self._freshness.check(user, entry)
        if verdict is Verdict.GONE:
            await self.evictor.forget([path])
            raise NasRejected(404, NOT_FOUND)
        if verdict is Verdict.STALE:
            self.counters.stale_refetches += 1
            log.info("cached file changed on the NAS; fetching again", path=path)
            return None
        return entry

    async def _require_online(self, path: str, sync_trigger: str | None) -> None:
        """Return when the NAS is online; wake it first when this request may (a person waits)."""
        if self._link.state is NasState.ONLINE:
            return
        if not self._link.configured:
            raise NasUnreachable("No NAS is configured (BALUPI_NAS_URL)", retry_after=3600)
        if not self.tuning.wake_on_request or _nobody_waits(sync_trigger):
            raise NasAsleep(
                f"The NAS is {self._link.state.value} and {path} is not cached",
                retry_after=self._waker.retry_after(),
            )
        await self._waker.ensure_available(
            reason=f"download of {path}", timeout=self.tuning.wake_wait_seconds
        )

    async def _hit(self, entry: Entry, online: bool) -> FileDelivery | None:
        blob = self.store.blob(entry.sha256)
        release = self.evictor.lease(entry.sha256)
        try:
            stat = await anyio.to_thread.run_sync(os.stat, blob)
        except FileNotFoundError:
            release()
            log.warning("cached bytes missing; fetching again", path=entry.path)
            await self.evictor.forget([entry.path])
            return None
        self.catalog.record_access(entry, self._clock.now())
        self._policy.on_access(entry.path, entry.size)
        self.counters.hits += 1
        if not online:
            self.counters.served_while_nas_down += 1
        headers: dict[str, str] = {}
        if entry.etag:
            headers["etag"] = entry.etag
        if entry.last_modified:
            headers["last-modified"] = formatdate(entry.last_modified.timestamp(), usegmt=True)
        return FileDelivery(
            file=blob,
            stat=stat,
            filename=name_of(entry.path),
            headers=headers,
            source="hit",
            count=self._count_hit,
            release=release,
            chunk_size=read_size(self.evictor.active_reads),
        )

    async def _local(self, path: str, local: LocalFile) -> FileDelivery:
        stat = await anyio.to_thread.run_sync(os.stat, local.file)
        self.counters.local += 1
        return FileDelivery(
            file=local.file,
            stat=stat,
            filename=name_of(path),
            headers={},  # Starlette's mtime+size ETag of the local file, as the NAS computes it
            source="local",
            count=self._count_local,
            release=lambda: None,
            chunk_size=read_size(self.evictor.active_reads),
        )

    def _count_hit(self, sent: int) -> None:
        self.counters.hit_bytes += sent

    def _count_local(self, sent: int) -> None:
        self.counters.local_bytes += sent

    # -- ensuring a file is cached (pins, thumbnails, refetches) -------------------------------
    async def ensure_cached(
        self, user: AuthenticatedUser, raw_path: str, *, may_wake: bool = True
    ) -> CachedBytes:
        """Where ``raw_path``'s bytes are on the Pi, fetching them into the cache if needed.

        ``NotCacheable`` (507) for a file the cache does not admit. Without ``may_wake`` (cache
        warming) a NAS that is not online is ``NasAsleep``, never woken.
        """
        viewer = await self._viewers.viewer_for(user)
        path = viewer.require(raw_path)
        local = self.local.get(path)
        if local is not None:
            return CachedBytes(local.file, local.sha256 or _local_key(path, local))
        online = self._link.state is NasState.ONLINE
        entry = await self._current_entry(user, path, online)
        if entry is not None:
            blob = self.store.blob(entry.sha256)
            if await anyio.to_thread.run_sync(blob.exists):
                return CachedBytes(blob, entry.sha256)
        await self._require_online(path, None if may_wake else "auto")
        delivery = await self._filler.miss(user, path)
        await delivery.close()  # not a reader: the fill goes on without this request
        if delivery.fill is None:
            raise NotCacheable(f"{path} is larger than the cache admits")
        try:
            await delivery.fill.wait()
        except FillFailed as exc:
            raise NasUnreachable(f"The download of {path} failed", retry_after=5) from exc
        entry = self.catalog.get(path)
        if entry is None:
            raise NasUnreachable(f"The download of {path} did not stay cached", retry_after=5)
        return CachedBytes(self.store.blob(entry.sha256), entry.sha256)

    # -- pins ----------------------------------------------------------------------------------
    async def pin(self, user: AuthenticatedUser, raw_path: str) -> Pin:
        """Keep ``raw_path`` on the Pi: fetched now if needed, never evicted until unpinned.

        Each user's pin is their own claim on the file: it stays pinned while any claim does.
        """
        viewer = await self._viewers.viewer_for(user)
        path = viewer.require(raw_path)
        if self.catalog.get(path) is None:
            await self.ensure_cached(user, path)
        entry = self.catalog.get(path)
        if entry is None:
            raise NotCacheable(f"{path} could not be kept")
        if not entry.pinned:
            pinned = sum(e.size for e in self.catalog if e.pinned)
            if pinned + entry.size > self.evictor.budget * self.tuning.pin_max_fraction:
                raise NotCacheable(
                    f"Pins may hold at most {self.tuning.pin_max_fraction:.0%} of the cache"
                )
        if not entry.pinned or user.id not in entry.pinned_by:
            await self.catalog.set_pinned(path, True, entry.pinned_by | {user.id})
        return Pin(path, True, entry.size)

    async def unpin(self, user: AuthenticatedUser, raw_path: str) -> Pin:
        """Lift the caller's claim on ``raw_path`` (an admin's lifts every claim).

        Another user's pin is not the caller's to lift: 403 (the pin list shows it anyway).
        """
        viewer = await self._viewers.viewer_for(user)
        path = viewer.require(raw_path)
        entry = self.catalog.get(path)
        if entry is None or not entry.pinned:
            return Pin(path, False, entry.size if entry else 0)
        if not user.is_admin and user.id not in entry.pinned_by:
            raise AccessDenied(
                "This file was pinned by another user: only they or an admin can unpin it"
            )
        remaining = frozenset() if user.is_admin else entry.pinned_by - {user.id}
        await self.catalog.set_pinned(path, bool(remaining), remaining)
        return Pin(path, entry.pinned, entry.size)

    async def pins(self, user: AuthenticatedUser) -> list[Pin]:
        viewer = await self._viewers.viewer_for(user)
        return [
            Pin(e.path, True, e.size) for e in self.catalog if e.pinned and viewer.can_see(e.path)
        ]

    # -- the listing service's hooks (FileCacheHooks) ------------------------------------------
    async def moved(self, old: str, new: str) -> None:
        """A file or folder was renamed or moved on the NAS: its cached bytes follow it."""
        self.local.moved(old, new)
        for old_path, entry in await self.catalog.move(old, new):
            self._policy.on_remove(old_path)
            self._policy.admit(entry.path, entry.size)

    async def removed(self, path: str) -> None:
        """A file or folder was deleted on the NAS: its cached bytes go too."""
        self.local.removed(path)
        await self.evictor.forget([e.path for e in self.catalog.below(path)])

    # -- integrity -----------------------------------------------------------------------------
    async def verify(
        self,
        paths: list[str] | None = None,
        *,
        byte_budget: int | None = None,
        refetch_as: AuthenticatedUser | None = None,
    ) -> VerifyReport:
        """Re-hash stored bytes; drop any whose hash no longer matches, and fetch them again
        (as ``refetch_as``, while the NAS is awake; otherwise at their next download).

        Without ``paths``, the entries verified longest ago first, up to ``byte_budget``.
        """
        if paths is not None:
            entries = [e for p in paths if (e := self.catalog.get(normalize_path(p)))]
        else:
            epoch = datetime.min.replace(tzinfo=self._clock.now().tzinfo)
            entries = sorted(self.catalog, key=lambda e: e.verified_at or epoch)
        budget = byte_budget if byte_budget is not None else self.tuning.verify_bytes_per_run
        checked: set[str] = set()
        corrupt: list[str] = []
        spent = 0
        for entry in entries:
            if entry.sha256 in checked:
                continue
            if paths is None and checked and spent + entry.size > budget:
                break
            checked.add(entry.sha256)
            spent += entry.size
            if await anyio.to_thread.run_sync(self.store.rehash, entry.sha256):
                await self.catalog.set_verified(entry.sha256, self._clock.now())
                continue
            self.counters.corrupt_found += 1
            gone = self.catalog.paths_of(entry.sha256)
            log.warning("cached bytes corrupt; dropped", paths=gone, sha256=entry.sha256)
            await self.evictor.forget(gone)
            corrupt.extend(gone)
        refetched = []
        if refetch_as is not None and self._link.state is NasState.ONLINE:
            for path in corrupt:
                with contextlib.suppress(NasRejected, NasUnreachable, NotCacheable):
                    await self.ensure_cached(refetch_as, path)
                    refetched.append(path)
        return VerifyReport(len(checked), corrupt, refetched)

    # -- background ----------------------------------------------------------------------------
    async def evict(self) -> int:
        """Evict now if over the high watermark (the background does this by itself)."""
        return await self.evictor.evict()

    async def _background(self) -> None:
        """Flush access counts, check the budget and verify a slice, every ``flush_seconds``."""
        while True:
            await self._clock.sleep(self.tuning.flush_seconds)
            try:
                await self.catalog.flush()
                await self.evictor.refresh_budget()
                self.evictor.schedule()
                now = self._clock.monotonic()
                if now - self._last_verify >= self.tuning.verify_every_seconds:
                    self._last_verify = now
                    await self.verify()
            except Exception:
                log.exception("cache background work failed")

    async def report(self, user: AuthenticatedUser, *, hottest: int = 10) -> CacheReport:
        """``/api/cache/stats``; the hottest files listed are only those ``user`` may see."""
        viewer = await self._viewers.viewer_for(user)
        return build_report(
            catalog=self.catalog,
            counters=self.counters,
            tuning=self.tuning,
            budget=self.evictor.budget,
            dirty_bytes=self._dirty_bytes(),
            pending_uploads=len(self.local.paths()),
            fills_in_flight=self.fills_in_flight,
            policy=self._policy.name,
            visible=viewer.can_see,
            hottest=hottest,
            last_warm=self.last_warm,
        )


def _nobody_waits(sync_trigger: str | None) -> bool:
    """Whether a client's ``X-Sync-Trigger`` marks its request as one nobody waits for."""
    return (sync_trigger or "").strip().lower() in BACKGROUND_TRIGGERS


def _local_key(path: str, local: LocalFile) -> str:
    """A content key for a local file without a known hash: its path, size and mtime."""
    return hashlib.sha256(f"{path}\0{local.size}\0{local.modified_at}".encode()).hexdigest()
