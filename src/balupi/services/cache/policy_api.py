"""The contract between the cache and an eviction policy.

The cache owns the bytes, the database and the rules about what must never go (pinned paths,
files being read, pending uploads); a policy only ranks. It hears every admission, access and
removal of a cache key (the file's path) with its size, and when the cache needs room it names
``victims``: keys whose sizes add up to at least ``bytes_needed``, skipping ``protected`` ones,
in the order it would drop them. The cache removes them and reports each with ``on_remove``.

Policies are plain synchronous objects with no I/O: they run on the event loop, in memory, so
every call must be cheap (O(1) per access; ``victims`` proportional to what it returns). The
policies themselves (hotness, LRU, SIEVE, S3-FIFO) live in the ``policies`` package, which adds
accounting and ``restore`` at start-up (``policies.base.Policy``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol


class EvictionPolicy(Protocol):
    """Ranks cache keys for eviction; told about every change, asked only for victims."""

    def admit(self, key: str, size: int) -> None:
        """``key`` (``size`` bytes) entered the cache (also called at start-up, oldest first)."""
        ...

    def on_access(self, key: str, size: int) -> None:
        """``key`` was served from the cache."""
        ...

    def on_remove(self, key: str) -> None:
        """``key`` left the cache (evicted, deleted, renamed away, found corrupt)."""
        ...

    def victims(self, bytes_needed: int, protected: Collection[str]) -> list[str]:
        """Keys to drop, in order, whose sizes add up to ``bytes_needed`` (or all it can name).

        Named keys stay tracked: the cache reports each removal it makes with ``on_remove``
        (it may keep a named key it cannot remove after all).
        """
        ...
