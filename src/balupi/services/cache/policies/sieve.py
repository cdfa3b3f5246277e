"""SIEVE (Zhang et al., NSDI '24), with sizes: a FIFO queue, one visited bit and a moving hand.

How SIEVE works, in short: files join one queue at the new end and never move while cached.
A read only sets the file's *visited* bit. To evict, a hand walks from the old end towards
the new end: a visited file has its bit cleared and is passed (it survives this round); the
first unvisited file is evicted, and the hand stays where it stopped for the next eviction,
wrapping to the old end when it passes the new end. New files are thus judged quickly (one
pass of the hand), and files read again since the hand last passed them stay.

Why it suits BaluPi: a read changes one bit, with no reordering, so it is cheap on the event
loop and needs no per-read database write; the paper reports lower miss ratios than LRU and
ARC on most of its web-cache traces. Byte-awareness here means the hand keeps going until the
evicted sizes add up to the bytes needed; which file goes is decided exactly as in SIEVE.

Protected keys are passed like visited ones, but keep their bit. Keys named by ``victims`` are
taken out of the queue into a "leaving" list (still tracked and counted) until the cache
reports their removal; a read in the meantime puts the key back at the new end.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from balupi.services.cache.policies.base import StoredEntry, by_admission, checked_size


class _Node:
    __slots__ = ("key", "newer", "older", "size", "visited")

    def __init__(self, key: str, size: int, visited: bool = False) -> None:
        self.key = key
        self.size = size
        self.visited = visited
        self.newer: _Node | None = None
        self.older: _Node | None = None


class SievePolicy:
    """SIEVE eviction over a byte budget. O(1) per admission, read and removal; ``victims``
    is amortised O(1) per key named (each pass of the hand clears the bits it passes)."""

    name = "sieve"

    def __init__(self) -> None:
        self._queued: dict[str, _Node] = {}
        self._leaving: dict[str, _Node] = {}  # named by victims(), awaiting on_remove
        self._newest: _Node | None = None
        self._oldest: _Node | None = None
        self._hand: _Node | None = None  # next node to look at; None: start at the oldest
        self._bytes = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._queued) + len(self._leaving)

    def __contains__(self, key: object) -> bool:
        return key in self._queued or key in self._leaving

    def __repr__(self) -> str:
        return f"<SievePolicy keys={len(self)} bytes={self._bytes} leaving={len(self._leaving)}>"

    def admit(self, key: str, size: int) -> None:
        """New files join unvisited at the new end; re-admitting a cached one is a read."""
        checked_size(size)
        node = self._queued.get(key) or self._leaving.get(key)
        if node is not None:
            self._bytes += size - node.size
            node.size = size
            self.on_access(key, size)
            return
        self._push_newest(_Node(key, size))
        self._bytes += size

    def on_access(self, key: str, size: int) -> None:
        node = self._queued.get(key)
        if node is not None:
            node.visited = True
            return
        node = self._leaving.pop(key, None)
        if node is not None:  # read after being named: it stays after all
            self._push_newest(node)

    def on_remove(self, key: str) -> None:
        node = self._leaving.pop(key, None)
        if node is None:
            node = self._queued.pop(key, None)
            if node is None:
                return
            self._unlink(node)
        self._bytes -= node.size

    def victims(self, bytes_needed: int, protected: Collection[str]) -> list[str]:
        chosen: list[str] = []
        freed = 0
        for key, node in self._leaving.items():  # named before and not removed yet: first
            if freed >= bytes_needed:
                return chosen
            if key not in protected:
                chosen.append(key)
                freed += node.size
        # Each step either evicts, clears a bit or passes a protected key; after two full
        # rounds without an eviction, everything left is protected.
        idle = 0
        while freed < bytes_needed and self._oldest is not None and idle <= 2 * len(self._queued):
            node = self._hand or self._oldest
            self._hand = node.newer
            if node.key in protected:
                idle += 1
            elif node.visited:
                node.visited = False
                idle += 1
            else:
                self._unlink(node)
                del self._queued[node.key]
                self._leaving[node.key] = node
                chosen.append(node.key)
                freed += node.size
                idle = 0
        return chosen

    def restore(self, entries: Iterable[StoredEntry]) -> None:
        """Queue in admission order, visited = read since the fill, hand at the old end.

        Exact for a cache whose hand had not yet come round; otherwise the hand's position
        and bits it had cleared are not stored, and the restored state gives the files read
        since their fill one more round than they had left.
        """
        self._queued.clear()
        self._leaving.clear()
        self._newest = self._oldest = self._hand = None
        self._bytes = 0
        for entry in by_admission(entries):
            self._push_newest(_Node(entry.key, checked_size(entry.size), entry.hits > 0))
            self._bytes += entry.size

    def _push_newest(self, node: _Node) -> None:
        node.older = self._newest
        node.newer = None
        if self._newest is None:
            self._oldest = node
        else:
            self._newest.newer = node
        self._newest = node
        self._queued[node.key] = node

    def _unlink(self, node: _Node) -> None:
        if self._hand is node:
            self._hand = node.newer
        if node.older is None:
            self._oldest = node.newer
        else:
            node.older.newer = node.newer
        if node.newer is None:
            self._newest = node.older
        else:
            node.newer.older = node.older
        node.newer = node.older = None
