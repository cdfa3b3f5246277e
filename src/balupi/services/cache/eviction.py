"""Room in the store: the budget, the watermarks, and what eviction must never touch.

The budget is ``CACHE_MAX_BYTES`` or what the disk allows (the bytes stored plus the free
space), whichever is smaller, re-read from the filesystem in the background, since uploads on
the same SSD take space too. Eviction starts above ``high_watermark`` of it and stops at
``low_watermark`` (hysteresis, like the cull and stop limits of Linux's cachefilesd), asking the
``EvictionPolicy`` for victims while passing it the protected paths: pinned ones, those being
read (leases taken by responses) and those the cache marks busy (fills, pending uploads).

A blob that loses its last path while a response still reads it is deleted when that response
releases it, not before (POSIX would keep the bytes for an open descriptor, but Starlette opens
the file only once it starts sending).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import anyio

from balupi.logs import get_logger
from balupi.services.cache.catalog import Catalog, Entry
from balupi.services.cache.model import CacheTuning
from balupi.services.cache.policy_api import EvictionPolicy
from balupi.services.cache.stats import CacheCounters
from balupi.services.cache.store import ContentStore
from balupi.tasks import TaskOwner, cancel_and_wait

log = get_logger(__name__)


class Evictor:
    """Keeps the store within its budget; owns the leases of blobs being read."""

    def __init__(
        self,
        store: ContentStore,
        catalog: Catalog,
        policy: EvictionPolicy,
        counters: CacheCounters,
        tuning: Callable[[], CacheTuning],
        busy: Callable[[], set[str]],
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._policy = policy
        self._counters = counters
        self._tuning = tuning
        self._busy = busy
        self._leases: Counter[str] = Counter()  # sha256 → responses reading the blob now
        self._doomed: set[str] = set()  # blobs to delete once their last reader is done
        self._lock = asyncio.Lock()
        self._tasks = TaskOwner("cache-eviction")
        self._task: asyncio.Task[None] | None = None
        self._deletions: set[asyncio.Task[None]] = set()
        self.budget = tuning().max_bytes

    # -- leases --------------------------------------------------------------------------------
    def lease(self, sha256: str) -> Callable[[], None]:
        """Mark blob ``sha256`` as being read; returns the release (call it exactly once)."""
        self._leases[sha256] += 1
        return lambda: self._release(sha256)

    @property
    def active_reads(self) -> int:
        return sum(self._leases.values())

    def _release(self, sha256: str) -> None:
        self._leases[sha256] -= 1
        if self._leases[sha256] <= 0:
            del self._leases[sha256]
            if sha256 in self._doomed:
                self._doomed.discard(sha256)
                self.discard_if_unused(sha256)

    # -- budget and eviction -------------------------------------------------------------------
    async def refresh_budget(self) -> int:
        disk = await anyio.to_thread.run_sync(self._store.disk)
        self.budget = min(self._tuning().max_bytes, self._catalog.stored_bytes + disk.free)
        return self.budget

    def admits(self, size: int) -> bool:
        """Admission control: not above ``max_file_bytes``, nor more than the unpinned budget."""
        pinned = sum(e.size for e in self._catalog if e.pinned)
        return size <= self._tuning().max_file_bytes and size <= self.budget - pinned

    def schedule(self) -> None:
        """Start an eviction in the background if the store is above its high watermark."""
        over = self._catalog.stored_bytes > self.budget * self._tuning().high_watermark
        if over and (self._task is None or self._task.done()):
            self._task = self._tasks.spawn(self._evict_quietly(), name="cache-evict")

    def protected(self) -> set[str]:
        reading = {p for sha in self._leases for p in self._catalog.paths_of(sha)}
        pinned = {e.path for e in self._catalog if e.pinned}
        return pinned | reading | self._busy()

    async def evict(self) -> int:
        """From above the high watermark down to the low one; returns the bytes freed."""
        async with self._lock:
            tuning = self._tuning()
            budget = await self.refresh_budget()
            if self._catalog.stored_bytes <= budget * tuning.high_watermark:
                return 0
            target = int(budget * tuning.low_watermark)
            protected = self.protected()
            freed = 0
            while self._catalog.stored_bytes > target:
                victims = self._policy.victims(self._catalog.stored_bytes - target, protected)
                if not victims:
                    log.warning("cache over its watermark; nothing left to evict")
                    break
                before = self._catalog.stored_bytes
                removed = await self.forget(victims)
                self._counters.evictions += len(removed)
                freed += before - self._catalog.stored_bytes
                protected |= set(victims)  # a name the policy keeps giving is not evictable
            self._counters.evicted_bytes += freed
            log.info("cache evicted", freed=freed, stored=self._catalog.stored_bytes)
            return freed

    async def _evict_quietly(self) -> None:
        try:
            await self.evict()
        except Exception:
            log.exception("cache eviction failed")

    # -- removal -------------------------------------------------------------------------------
    async def forget(self, paths: list[str]) -> list[Entry]:
        """Remove ``paths`` from the catalog and the policy; delete bytes nobody references."""
        for path in paths:
            self._policy.on_remove(path)
        removed = await self._catalog.remove(paths)
        for entry in removed:
            self.discard_if_unused(entry.sha256)
        return removed

    def discard_if_unused(self, sha256: str) -> None:
        if self._catalog.references(sha256) > 0:
            return
        if self._leases.get(sha256):
            self._doomed.add(sha256)  # deleted when its last reader is done
            return
        deleting = anyio.to_thread.run_sync(self._store.delete, sha256)
        task = self._tasks.spawn(deleting, name=f"cache-delete {sha256[:12]}")
        self._deletions.add(task)
        task.add_done_callback(self._deletions.discard)

    def keep(self, sha256: str) -> None:
        """The content was stored again (a fill of identical bytes): no longer to be deleted."""
        self._doomed.discard(sha256)

    async def aclose(self) -> None:
        """Stop an eviction in progress; deletions already handed to a thread are let finish."""
        await cancel_and_wait(self._task)
        if self._deletions:
            await asyncio.gather(*self._deletions, return_exceptions=True)
        await self._tasks.aclose()
