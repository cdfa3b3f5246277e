"""The cache's vocabulary: its knobs, what it hands the HTTP layer, and its refusals.

Plain data only, imported by the cache's modules and by the routes; no behaviour lives here.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from balupi.config import Settings
from balupi.errors import FileError
from balupi.services.cache.fetch import Fill

KiB = 1024
GiB = 1024**3
# Reads of cached files share this much buffer: one client gets 1 MiB pieces (fewer thread hops,
# close to nginx's throughput), 32 clients get 64 KiB each (2 MiB in all on a 1 GB Pi).
READ_BUDGET = 2 * 1024 * KiB
READ_MIN, READ_MAX = 64 * KiB, 1024 * KiB


class NotCacheable(FileError):
    """A pin the cache cannot keep: the file is larger than it admits or than its room."""

    code = "not_cacheable"
    status_code = 507


@dataclass(frozen=True)
class CacheTuning:
    """The cache's knobs; ``from_settings`` takes the ``CACHE_*`` settings, the rest default."""

    max_bytes: int = 32 * GiB
    max_file_bytes: int = 2 * GiB
    high_watermark: float = 0.85
    low_watermark: float = 0.70
    revalidate_seconds: float = 300.0  # an entry older than this is checked while awake
    flush_seconds: float = 30.0  # access counts are written this often
    verify_every_seconds: float = 6 * 3600.0
    verify_bytes_per_run: int = 1 * GiB  # re-hashing is disk and CPU: bounded per run
    pin_max_fraction: float = 0.5  # pins may hold at most this share of the budget
    wake_on_request: bool = True
    wake_wait_seconds: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CacheTuning:
        return cls(
            max_bytes=int(settings.cache_max_bytes),
            max_file_bytes=int(settings.cache_max_file_bytes),
            high_watermark=settings.cache_high_watermark,
            # Stop 15 points below the start (0.85 → 0.70): each sweep frees a useful amount.
            low_watermark=max(settings.cache_high_watermark - 0.15, 0.05),
            wake_on_request=settings.wake_on_request,
            wake_wait_seconds=settings.wake_wait_seconds,
        )


def read_size(active_reads: int) -> int:
    """Bytes per read of a cached file while ``active_reads`` files are being sent at once."""
    share = READ_BUDGET // max(active_reads, 1)
    return max(READ_MIN, min(READ_MAX, 1 << (share.bit_length() - 1)))


@dataclass(frozen=True)
class FileDelivery:
    """A file on the Pi's disk to send (``FileResponse``); call ``release`` when sent."""

    file: Path
    stat: os.stat_result
    filename: str
    headers: dict[str, str]  # the NAS's ETag / Last-Modified for this content
    source: str  # "hit" or "local"
    count: Callable[[int], None]  # bytes sent
    release: Callable[[], None]
    chunk_size: int = READ_MIN


@dataclass(frozen=True)
class FileSpan:
    """``count`` bytes of ``file`` from ``offset``, for a server to send without reading them."""

    file: BinaryIO
    offset: int
    count: int


@dataclass(frozen=True)
class StreamDelivery:
    """Bytes arriving from the NAS (a miss being filled, or passed through uncached).

    A miss can also be sent as spans of its temp file (``zero_copy``, used instead of ``body``
    where the server offers ``http.response.zerocopysend``).
    """

    status: int
    headers: dict[str, str]
    body: AsyncIterator[bytes]
    source: str  # "miss" or "pass"
    close: Callable[[], Awaitable[None]]
    fill: Fill | None = None  # the fill a "miss" reads
    zero_copy: Callable[[], AsyncGenerator[FileSpan, None]] | None = None


Delivery = FileDelivery | StreamDelivery


@dataclass(frozen=True)
class CachedBytes:
    """Where a file's bytes are on the Pi, and a key for their content (thumbnails use it)."""

    file: Path
    key: str


@dataclass(frozen=True)
class RangeHeaders:
    """A client's ``Range`` and ``If-Range``, passed to the NAS when a range is not cached."""

    range: str | None = None
    if_range: str | None = None


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    corrupt: list[str] = field(default_factory=list)
    refetched: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Pin:
    path: str
    pinned: bool
    size: int
