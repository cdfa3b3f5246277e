"""The seed's hotness score: reads weighted down by how long ago the last one was.

``hotness = accesses × 1 / (1 + days since the last access)``: a file read 30 times is hot
until it has not been read for weeks; a file read once yesterday is already cooler than one
read twice today. It is a frequency policy with ageing (an LFU with a recency discount), which
suits a stable library whose favourites are re-read, and it needs the time of each read.

Keeping the coldest file at hand is the hard part: scores decay with time, and not at the same
rate for every file (the order of two files can swap as the days pass), so no fixed key sorts
them for good. ``HotnessPolicy`` keeps a min-heap of (score, stamp, key) and is lazy about it:

- a read only marks the file's heap entry stale (O(1), the hot path);
- when the coldest heap entry is stale, it is re-scored at the current time and pushed back,
  so a file is re-scored at most once per read, and only when it reaches the bottom;
- the whole heap is re-scored at the current time when the last full scoring is older than
  ``rescore_seconds`` (default one hour, a drift of at most 1/24 day in any score) or when
  removed keys have left more dead heap entries than live ones.

Admissions and re-scorings cost O(log n); reads O(1); ``victims`` O(k log n) for k keys
passed; the full re-scoring O(n) at most once an hour of cache activity (30 ms for 100,000
files on the x86 development machine; expect several times that on the Pi's Cortex-A53,
once an hour, inside an eviction sweep).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Collection, Iterable

from balupi.services.cache.policies.base import (
    SECONDS_PER_DAY,
    StoredEntry,
    by_last_access,
    checked_size,
)

# Re-score everything when dead entries outnumber live ones by this much (keeps the heap
# within about twice the number of cached files).
_SLACK = 64


def hotness(accesses: int, last_access: float, now: float) -> float:
    """The seed's score: ``accesses × 1/(1 + days since last_access)`` (times in POSIX seconds).

    ``accesses`` counts every read of the file including the one that filled the cache
    (the catalog's ``hits + 1``). A last access in the future (a clock step) counts as now.
    """
    idle = now - last_access
    return accesses / (1.0 + idle / SECONDS_PER_DAY) if idle > 0.0 else float(accesses)


class _Heat:
    __slots__ = ("accesses", "last", "size", "stale", "stamp")

    def __init__(self, size: int, accesses: int, last: float, stamp: int) -> None:
        self.size = size
        self.accesses = accesses
        self.last = last
        self.stamp = stamp  # the stamp of this key's one live heap entry
        self.stale = False  # read since that heap entry was scored


class HotnessPolicy:
    """Evicts the lowest hotness first (ties: the one scored earliest, i.e. read least lately).

    ``clock`` returns POSIX seconds (``lambda: clock.now().timestamp()`` with BaluPi's
    ``Clock``); it is read on every admission, read and sweep.
    """

    name = "hotness"

    def __init__(self, clock: Callable[[], float], *, rescore_seconds: float = 3600.0) -> None:
        self._clock = clock
        self._rescore_seconds = rescore_seconds
        self._entries: dict[str, _Heat] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._stamps = itertools.count()
        self._scored_at = clock()
        self._bytes = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __repr__(self) -> str:
        return f"<HotnessPolicy keys={len(self)} bytes={self._bytes} heap={len(self._heap)}>"

    def score(self, key: str) -> float | None:
        """The key's hotness now (``None`` if untracked): for stats and the hottest-files list."""
        heat = self._entries.get(key)
        return None if heat is None else hotness(heat.accesses, heat.last, self._clock())

    def admit(self, key: str, size: int) -> None:
        """A fill counts as the file's first access; re-admission is a read that resizes."""
        checked_size(size)
        heat = self._entries.get(key)
        if heat is not None:
            self._bytes += size - heat.size
            heat.size = size
            self._touch(heat)
            return
        self._add(key, size, 1, self._clock())

    def on_access(self, key: str, size: int) -> None:
        heat = self._entries.get(key)
        if heat is not None:
            self._touch(heat)

    def on_remove(self, key: str) -> None:
        heat = self._entries.pop(key, None)
        if heat is not None:
            self._bytes -= heat.size
            self._compact_if_bloated()

    def victims(self, bytes_needed: int, protected: Collection[str]) -> list[str]:
        now = self._clock()
        if now - self._scored_at >= self._rescore_seconds:
            self._rescore(now)
        chosen: list[str] = []
        passed: list[tuple[float, int, str]] = []  # popped live entries, pushed back at the end
        freed = 0
        heap = self._heap
        while freed < bytes_needed and heap:
            item = heap[0]
            _, stamp, key = item
            heat = self._entries.get(key)
            if heat is None or heat.stamp != stamp:
                heapq.heappop(heap)  # dead: the key left or was re-scored since
            elif heat.stale:
                heat.stamp = next(self._stamps)
                heat.stale = False
                heapq.heapreplace(heap, (hotness(heat.accesses, heat.last, now), heat.stamp, key))
            else:
                passed.append(heapq.heappop(heap))
                if key not in protected:
                    chosen.append(key)
                    freed += heat.size
        for item in passed:
            heapq.heappush(heap, item)
        return chosen

    def restore(self, entries: Iterable[StoredEntry]) -> None:
        """Scores from the stored hit counts and last-access times: the order before a restart."""
        self._entries.clear()
        self._heap.clear()
        self._bytes = 0
        for entry in by_last_access(entries):
            accesses = max(entry.hits, 0) + 1
            heat = _Heat(checked_size(entry.size), accesses, entry.last_access, next(self._stamps))
            self._entries[entry.key] = heat
            self._bytes += heat.size
        self._rescore(self._clock())

    def _add(self, key: str, size: int, accesses: int, last: float) -> None:
        heat = _Heat(size, accesses, last, next(self._stamps))
        self._entries[key] = heat
        self._bytes += size
        heapq.heappush(self._heap, (hotness(accesses, last, self._clock()), heat.stamp, key))
        self._compact_if_bloated()

    def _touch(self, heat: _Heat) -> None:
        heat.accesses += 1
        now = self._clock()
        if now > heat.last:
            heat.last = now
        heat.stale = True

    def _compact_if_bloated(self) -> None:
        if len(self._heap) > 2 * len(self._entries) + _SLACK:
            self._rescore(self._clock())

    def _rescore(self, now: float) -> None:
        """One heap entry per key, every score as of ``now``; stamps keep their tie order."""
        # hotness() inlined: this loop is the policy's one O(n) step (about an hour apart).
        day = SECONDS_PER_DAY
        self._heap = [
            (
                heat.accesses * day / (day + now - heat.last) if now > heat.last else heat.accesses,
                heat.stamp,
                key,
            )
            for key, heat in self._entries.items()
        ]
        for heat in self._entries.values():
            heat.stale = False
        heapq.heapify(self._heap)
        self._scored_at = now
