"""What every BaluPi eviction policy offers beyond ``policy_api.EvictionPolicy``.

``policy_api.EvictionPolicy`` is the contract the cache calls: ``admit``, ``on_access``,
``on_remove`` and ``victims``. The policies here add what the cache and the benchmark need
around it (``Policy``):

- ``name``: the policy's name in settings and benchmark tables (``make_policy(name)``);
- ``len(policy)``, ``key in policy`` and ``policy.bytes``: the keys it tracks and the sum of
  their sizes, exact after every admission, removal and eviction (so the cache can cross-check
  its own accounting);
- ``restore(entries)``: rebuild the state at start-up from the stored rows (``StoredEntry``:
  key, size, hits, last access), so a restart does not forget which files are hot. Calling
  ``admit`` oldest first also works, but loses the hit counts.

The semantics of ``victims`` in detail: it names keys, in eviction order, until their sizes
add up to ``bytes_needed`` or nothing evictable is left, and never names a protected key. It
does not forget them: a named key stays tracked (in ``len``, ``bytes`` and ``in``) until the
cache reports its removal with ``on_remove``, and a read in between (``on_access``) takes it
back into the cache's ranking. Choosing may move the policy's own bookkeeping along (SIEVE's
hand and visited bits, S3-FIFO's promotions); that is how those algorithms work, and nothing
is lost by it. A second ``victims`` call before the removals offers the still-pending keys
first, so asking twice does not widen the sweep.

Time: policies that need it (hotness) take a clock returning POSIX seconds at construction,
as the rest of BaluPi injects its ``Clock``; the calls themselves carry no time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

from balupi.services.cache.policy_api import EvictionPolicy

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One cached file as the database remembers it, for ``Policy.restore``.

    ``hits`` is the number of reads served from the cache since the file was filled (the
    catalog's ``hits``: 0 for a file fetched once and never read again). ``last_access`` is
    POSIX seconds: the last read, or the fill time for a file never read since. ``admitted``
    is when the file entered the cache (the catalog's ``created_at``): the queue order of
    SIEVE and S3-FIFO; without it they fall back to ``last_access``.
    """

    key: str
    size: int
    hits: int
    last_access: float
    admitted: float | None = None


class Policy(EvictionPolicy, Protocol):
    """``policy_api.EvictionPolicy`` plus accounting and restart (see the module docstring)."""

    @property
    def name(self) -> str:
        """The name ``make_policy`` knows this policy by."""
        ...

    @property
    def bytes(self) -> int:
        """Sum of the sizes of the tracked keys (including keys named but not yet removed)."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, key: object) -> bool: ...

    def restore(self, entries: Iterable[StoredEntry]) -> None:
        """Replace the state by one derived from stored rows (start-up); row order is irrelevant."""
        ...


def checked_size(size: int) -> int:
    """``size`` if it is a byte count; a negative size is a caller's bug, refused at once."""
    if size < 0:
        raise ValueError(f"a file cannot have {size} bytes")
    return size


def by_last_access(entries: Iterable[StoredEntry]) -> list[StoredEntry]:
    """Rows oldest access first, ties by key: one deterministic order for every ``restore``.

    A key listed twice keeps only its most recent row, so no policy can track it twice.
    """
    latest: dict[str, StoredEntry] = {}
    for entry in entries:
        seen = latest.get(entry.key)
        if seen is None or entry.last_access >= seen.last_access:
            latest[entry.key] = entry
    return sorted(latest.values(), key=lambda entry: (entry.last_access, entry.key))


def by_admission(entries: Iterable[StoredEntry]) -> list[StoredEntry]:
    """Rows in the order they entered the cache (``admitted``, else ``last_access``), ties by key.

    One row per key, the most recently accessed, as in ``by_last_access``.
    """
    return sorted(
        by_last_access(entries),
        key=lambda entry: (
            entry.last_access if entry.admitted is None else entry.admitted,
            entry.key,
        ),
    )


NO_KEYS: Collection[str] = frozenset()
