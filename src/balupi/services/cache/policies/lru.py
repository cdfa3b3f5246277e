"""Least recently used: the baseline every other policy is measured against.

LRU keeps the keys in the order of their last read and drops the one read longest ago. It is
what rclone's VFS cache and nginx's cache manager do, cheap (one ``OrderedDict``, O(1) per
read), and weak in two ways that matter for a photo library: a file read once (a one-hit
wonder, e.g. a whole album scrolled past) pushes out files read every day, and it knows
nothing about how often a file was read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable

from balupi.services.cache.policies.base import StoredEntry, by_last_access, checked_size


class LruPolicy:
    """Evicts the least recently read key first; protected keys are passed over in place.

    Choosing changes nothing (the chosen keys are simply the oldest), so asking twice gives
    the same answer. Cost: O(1) per admission, read and removal; ``victims`` is O(keys named
    + protected keys passed over).
    """

    name = "lru"

    def __init__(self) -> None:
        self._sizes: OrderedDict[str, int] = OrderedDict()  # least recently read first
        self._bytes = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._sizes)

    def __contains__(self, key: object) -> bool:
        return key in self._sizes

    def __repr__(self) -> str:
        return f"<LruPolicy keys={len(self)} bytes={self._bytes}>"

    def admit(self, key: str, size: int) -> None:
        """A fill is a read: the key becomes the most recently used (re-admission resizes it)."""
        self._bytes += checked_size(size) - self._sizes.pop(key, 0)
        self._sizes[key] = size

    def on_access(self, key: str, size: int) -> None:
        if key in self._sizes:
            self._sizes.move_to_end(key)

    def on_remove(self, key: str) -> None:
        self._bytes -= self._sizes.pop(key, 0)

    def victims(self, bytes_needed: int, protected: Collection[str]) -> list[str]:
        chosen: list[str] = []
        freed = 0
        for key, size in self._sizes.items():
            if freed >= bytes_needed:
                break
            if key not in protected:
                chosen.append(key)
                freed += size
        return chosen

    def restore(self, entries: Iterable[StoredEntry]) -> None:
        """Recency order from the stored last-access times: exactly the order before a restart."""
        self._sizes.clear()
        self._bytes = 0
        for entry in by_last_access(entries):
            self.admit(entry.key, entry.size)
