"""Eviction policies for the SSD cache: which cached files to drop when room is needed.

Every policy implements ``policy_api.EvictionPolicy`` (what the cache calls) and ``Policy``
(accounting and restart; see ``base.py`` for the exact semantics of ``victims``). All four are
in-memory, synchronous and byte-aware (they free bytes, not a number of files):

========== =================================================== ==================================
name       evicts first                                        per read / per key named
========== =================================================== ==================================
hotness    lowest ``accesses / (1 + days since last access)``  O(1) / O(log n), lazy re-scoring
lru        least recently read                                 O(1) / O(1)
sieve      SIEVE (NSDI '24): unvisited files, by a moving hand O(1) / amortised O(1)
s3fifo     S3-FIFO (SOSP '23): small/main/ghost FIFO queues    O(1) / amortised O(1)
========== =================================================== ==================================

``DEFAULT_POLICY`` is the one that won ``bench/eviction.py``: SIEVE, with the best byte hit
ratio relative to Belady's optimum (0.87 on average over Zipf 0.8, Zipf 1.0 and "new photos
fade" photo-library traces at 10 and 20 % cache) among the policies that beat LRU on every one,
S3-FIFO a close second, and the cheapest of them per read. The figures are in
``docs/performance.md``.

Memory: about 90 (LRU) to 250 (hotness) bytes per cached file besides the key string, which
the catalog holds anyway (measured by the benchmark): 100,000 cached files cost 10-25 MB.

Use from the cache: build one with ``make_policy(settings' name, clock=clock)``; at start-up
hand it the catalog's rows with ``restore`` (``StoredEntry(path, size, hits,
(last_access_at or created_at).timestamp(), created_at.timestamp())``) rather than ``admit``
oldest first, which would forget the hit counts; then ``admit`` / ``on_access`` /
``on_remove`` as files come, are read and go, and ``victims`` when over the watermark.
"""

from __future__ import annotations

from collections.abc import Callable

from balupi.clock import Clock, SystemClock
from balupi.services.cache.policies.base import Policy, StoredEntry
from balupi.services.cache.policies.hotness import HotnessPolicy, hotness
from balupi.services.cache.policies.lru import LruPolicy
from balupi.services.cache.policies.s3fifo import S3FifoPolicy
from balupi.services.cache.policies.sieve import SievePolicy

__all__ = [
    "DEFAULT_POLICY",
    "POLICY_NAMES",
    "HotnessPolicy",
    "LruPolicy",
    "Policy",
    "S3FifoPolicy",
    "SievePolicy",
    "StoredEntry",
    "hotness",
    "make_policy",
]

POLICY_NAMES = ("hotness", "lru", "sieve", "s3fifo")
DEFAULT_POLICY = "sieve"


def make_policy(name: str = DEFAULT_POLICY, *, clock: Clock | None = None) -> Policy:
    """A new, empty policy by name; ``clock`` (default: the system clock) times the hotness."""
    if name == "hotness":
        source = clock or SystemClock()
        seconds: Callable[[], float] = lambda: source.now().timestamp()  # noqa: E731
        return HotnessPolicy(seconds)
    if name == "lru":
        return LruPolicy()
    if name == "sieve":
        return SievePolicy()
    if name == "s3fifo":
        return S3FifoPolicy()
    raise ValueError(f"unknown eviction policy {name!r}; choose one of {', '.join(POLICY_NAMES)}")
