"""What the cache has done, counted in memory, and the report ``/api/cache/stats`` shows.

A *hit* is a download answered from the SSD, a *miss* one that had to come from the NAS and
was cached on the way; a *pass* came from the NAS but was not cached (too large, a Range on a
file not cached, a share the Pi cannot judge); *local* ones came from a pending upload. Ratios
are over hits and misses, by requests and by bytes sent, the two figures the eviction research
compares. Counters start at zero with each process; entries and bytes are
read from the catalog at the time of the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from balupi.clock import utc_iso
from balupi.services.cache.catalog import Catalog
from balupi.services.cache.model import CacheTuning


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class CacheCounters:
    hits: int = 0
    hit_bytes: int = 0
    misses: int = 0
    miss_bytes: int = 0
    passes: int = 0
    pass_bytes: int = 0
    local: int = 0
    local_bytes: int = 0
    evictions: int = 0
    evicted_bytes: int = 0
    revalidations: int = 0
    stale_refetches: int = 0
    corrupt_found: int = 0
    fills_failed: int = 0
    served_while_nas_down: int = 0  # hits while the NAS was not online: the outage made visible


@dataclass(frozen=True)
class WarmReport:
    """One warming burst after a wake (``warming.py``): what it fetched, and why it stopped."""

    started_at: str
    files: int
    bytes: int
    thumbnails: int
    seconds: float
    budget_bytes: int
    stopped: str | None = None  # why the burst ended early (the NAS went to sleep or away)


@dataclass(frozen=True)
class HotFile:
    path: str
    size: int
    hits: int
    last_access_at: str | None
    pinned: bool


@dataclass(frozen=True)
class CacheReport:
    entries: int
    bytes: int
    budget_bytes: int
    high_watermark_bytes: int
    low_watermark_bytes: int
    max_file_bytes: int
    requests: dict[str, int]
    bytes_served: dict[str, int]
    hit_ratio: float | None
    byte_hit_ratio: float | None
    evictions: int
    evicted_bytes: int
    pinned: int
    pinned_bytes: int
    dirty_bytes: int
    pending_uploads: int
    fills_in_flight: int
    revalidations: int
    stale_refetches: int
    corrupt_found: int
    fills_failed: int
    served_while_nas_down: int
    policy: str
    hottest: list[HotFile] = field(default_factory=list)
    last_warm: WarmReport | None = None


def build_report(
    *,
    catalog: Catalog,
    counters: CacheCounters,
    tuning: CacheTuning,
    budget: int,
    dirty_bytes: int,
    pending_uploads: int,
    fills_in_flight: int,
    policy: str,
    visible: Callable[[str], bool],
    hottest: int,
    last_warm: WarmReport | None = None,
) -> CacheReport:
    """The report of the cache's state now; ``visible`` filters the hottest files shown."""
    c = counters
    pinned = [e for e in catalog if e.pinned]
    hot = sorted(
        (e for e in catalog if visible(e.path)),
        key=lambda e: (e.hits, e.last_access_at or e.created_at),
        reverse=True,
    )[:hottest]
    return CacheReport(
        entries=len(catalog),
        bytes=catalog.stored_bytes,
        budget_bytes=budget,
        high_watermark_bytes=int(budget * tuning.high_watermark),
        low_watermark_bytes=int(budget * tuning.low_watermark),
        max_file_bytes=tuning.max_file_bytes,
        requests={"hits": c.hits, "misses": c.misses, "passes": c.passes, "local": c.local},
        bytes_served={
            "hits": c.hit_bytes,
            "misses": c.miss_bytes,
            "passes": c.pass_bytes,
            "local": c.local_bytes,
        },
        hit_ratio=ratio(c.hits, c.hits + c.misses),
        byte_hit_ratio=ratio(c.hit_bytes, c.hit_bytes + c.miss_bytes),
        evictions=c.evictions,
        evicted_bytes=c.evicted_bytes,
        pinned=len(pinned),
        pinned_bytes=sum(e.size for e in pinned),
        dirty_bytes=dirty_bytes,
        pending_uploads=pending_uploads,
        fills_in_flight=fills_in_flight,
        revalidations=c.revalidations,
        stale_refetches=c.stale_refetches,
        corrupt_found=c.corrupt_found,
        fills_failed=c.fills_failed,
        served_while_nas_down=c.served_while_nas_down,
        policy=policy,
        hottest=[
            HotFile(
                e.path,
                e.size,
                e.hits,
                utc_iso(e.last_access_at) if e.last_access_at else None,
                e.pinned,
            )
            for e in hot
        ],
        last_warm=last_warm,
    )
