"""Cache warming (issue 12, item 5): after a wake, one burst fetches what people will open while
the NAS sleeps: new files of recently browsed folders, recent uploads to ``Shared``, within a
byte budget and the high watermark, one at a time, stopping as soon as the NAS sleeps or goes."""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest
from PIL import Image

from balupi.clock import utc_iso
from balupi.db.models import QueueOperation, QueueStatus, UploadQueueEntry
from balupi.services.cache.catalog import Entry
from balupi.services.cache.stats import WarmReport
from balupi.services.cache.store import BlobWriter
from balupi.services.cache.warming import (
    STOPPED_ASLEEP,
    STOPPED_UNREACHABLE,
    CacheWarmer,
    WarmSettings,
)
from balupi.services.nas.gate import Purpose
from tests.cache.conftest import CacheHome, MiB, pattern
from tests.waiting import eventually


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (20, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def _put(cache_home: CacheHome, path: str, data: bytes, *, age: float = 0) -> None:
    """A file on the NAS, changed ``age`` seconds ago (newest-first order is by this)."""
    cache_home.put(path, data)
    moment = time.time() - age
    os.utime(cache_home.storage / path, (moment, moment))


async def _browse(cache_home: CacheHome, folder: str, username: str = "maria") -> None:
    response = await cache_home.home.pi.get(
        "/api/files/list", params={"path": folder}, headers=cache_home.auth(username)
    )
    assert response.status_code == 200


def _warmer(cache_home: CacheHome, budget: int) -> CacheWarmer:
    """A warmer of its own (run by hand) on the home's services, with ``budget`` bytes."""
    services = cache_home.home.services
    return CacheWarmer(
        services.sessions,
        services.nas_link,
        services.cache,
        services.thumbnails,
        services.uploads.tokens,
        services.clock,
        WarmSettings(budget_bytes=budget, window=timedelta(days=7)),
    )


def _cached(cache_home: CacheHome) -> set[str]:
    return {entry.path for entry in cache_home.cache.catalog}


async def _wake_and_warm(cache_home: CacheHome) -> WarmReport:
    """Wake the NAS; the app's own warmer runs its burst: its report."""
    home = cache_home.home
    home.clock.advance(1)  # the burst's report is told from any earlier one by its start
    stamp = utc_iso(home.clock.now())
    await home.nas_wakes()
    await eventually(
        lambda: (r := cache_home.cache.last_warm) is not None and r.started_at == stamp
    )
    report = cache_home.cache.last_warm
    assert report is not None
    return report


async def _synced_upload(cache_home: CacheHome, path: str, size: int, username: str) -> None:
    """An upload the Pi pushed to the NAS a minute ago (as its sync queue records it)."""
    services = cache_home.home.services
    async with services.sessions.begin() as session:
        session.add(
            UploadQueueEntry(
                operation=QueueOperation.UPLOAD,
                status=QueueStatus.SYNCED,
                owner_id=str(cache_home.home.nas_user_id(username)),
                target_path=path,
                size=size,
                synced_at=services.clock.now() - timedelta(minutes=1),
            )
        )


async def test_a_wake_warms_new_files_of_browsed_folders_and_shared_uploads(
    cache_home: CacheHome,
) -> None:
    photo = _jpeg()
    _put(cache_home, "Shared/photos/new.jpg", photo, age=60)
    _put(cache_home, "Shared/photos/new.bin", pattern(MiB, 1), age=120)
    _put(cache_home, "Shared/photos/old.bin", pattern(MiB, 2), age=30 * 86400)
    _put(cache_home, "Shared/unbrowsed/new.bin", pattern(MiB, 3), age=60)
    _put(cache_home, "Shared/inbox/upload.bin", pattern(MiB, 4), age=60)  # pushed by the Pi
    await _browse(cache_home, "Shared/photos")
    await _synced_upload(cache_home, "Shared/inbox/upload.bin", MiB, "maria")
    await cache_home.home.nas_sleeps()
    assert _cached(cache_home) == set()

    report = await _wake_and_warm(cache_home)

    assert _cached(cache_home) == {
        "Shared/photos/new.jpg",
        "Shared/photos/new.bin",
        "Shared/inbox/upload.bin",
    }
    assert (report.files, report.bytes, report.stopped) == (3, len(photo) + 2 * MiB, None)
    assert report.thumbnails == 1
    assert len(list(cache_home.home.services.thumbnails.directory.glob("*.jpg"))) == 1
    stats = await cache_home.home.pi.get("/api/cache/stats", headers=cache_home.auth("maria"))
    assert stats.json()["last_warm"]["files"] == 3
    assert cache_home.home.wake_packets() == 0

    # Warmed bytes answer while the NAS sleeps, as any cached file does.
    await cache_home.home.nas_sleeps()
    served = await cache_home.download("maria", "Shared/photos/new.bin")
    assert (served.status_code, served.headers["x-balupi-cache"]) == (200, "hit")
    assert served.content == pattern(MiB, 1)


async def test_the_budget_holds(cache_home: CacheHome) -> None:
    _put(cache_home, "Shared/b/first.bin", pattern(2 * MiB, 1), age=10)
    _put(cache_home, "Shared/b/second.bin", pattern(2 * MiB, 2), age=20)
    _put(cache_home, "Shared/b/third.bin", pattern(MiB // 2, 3), age=30)
    await _browse(cache_home, "Shared/b")

    report = await _warmer(cache_home, 3 * MiB).run_once()

    # Newest first; the second does not fit what is left, the smaller third does.
    assert _cached(cache_home) == {"Shared/b/first.bin", "Shared/b/third.bin"}
    assert report.bytes == 2 * MiB + MiB // 2 <= 3 * MiB
    # The next burst has its own budget; what is cached already is skipped.
    again = await _warmer(cache_home, 3 * MiB).run_once()
    assert (again.files, again.bytes) == (1, 2 * MiB)
    assert "Shared/b/second.bin" in _cached(cache_home)


async def test_warming_stays_below_the_high_watermark(cache_home: CacheHome) -> None:
    cache = cache_home.cache
    cache.tuning = replace(cache.tuning, max_bytes=4 * MiB, high_watermark=0.85)  # 3.4 MiB
    _put(cache_home, "Shared/hot.bin", pattern(2 * MiB, 9))
    assert (await cache_home.download("maria", "Shared/hot.bin")).status_code == 200
    await cache_home.settled()
    _put(cache_home, "Shared/w/big.bin", pattern(2 * MiB, 1), age=10)
    _put(cache_home, "Shared/w/small.bin", pattern(MiB, 2), age=20)
    await _browse(cache_home, "Shared/w")

    report = await _warmer(cache_home, 100 * MiB).run_once()

    assert _cached(cache_home) == {"Shared/hot.bin", "Shared/w/small.bin"}
    assert report.files == 1
    await cache.evict()
    assert cache.counters.evictions == 0
    assert "Shared/hot.bin" in _cached(cache_home)


async def test_nothing_is_fetched_while_the_nas_sleeps(cache_home: CacheHome) -> None:
    _put(cache_home, "Shared/s/new.bin", pattern(MiB, 1))
    await _browse(cache_home, "Shared/s")
    await cache_home.home.pi_believes_nas_sleeps()  # the NAS still listens, and counts
    before = cache_home.nas_requests()
    last = cache_home.cache.last_warm

    report = await _warmer(cache_home, 100 * MiB).run_once()

    assert (report.files, report.stopped) == (0, STOPPED_ASLEEP)
    assert cache_home.nas_requests() == before
    assert _cached(cache_home) == set()
    await cache_home.home.services.nas_link.report_power(60.0)  # running again: waking, not up
    assert cache_home.cache.last_warm is report is not last  # no burst of the app's own


async def test_a_nas_that_goes_away_mid_burst_stops_it_cleanly(
    cache_home: CacheHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        _put(cache_home, f"Shared/g/{n}.bin", pattern(MiB, n), age=10 * (n + 1))
    await _browse(cache_home, "Shared/g")
    catalog = cache_home.cache.catalog
    put = catalog.put

    async def put_then_vanish(entry: Entry) -> Entry | None:
        old = await put(entry)
        await cache_home.home.nas.sleep()  # gone, and the Pi was not told
        return old

    monkeypatch.setattr(catalog, "put", put_then_vanish)

    report = await _warmer(cache_home, 100 * MiB).run_once()

    assert _cached(cache_home) == {"Shared/g/0.bin"}
    assert (report.files, report.bytes, report.stopped) == (1, MiB, STOPPED_UNREACHABLE)
    assert cache_home.cache.fills_in_flight == 0
    assert cache_home.temp_files() == []


async def test_a_nas_that_falls_asleep_mid_fetch_stops_it_at_once(
    cache_home: CacheHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    _put(cache_home, "Shared/f/large.bin", pattern(8 * MiB, 1), age=10)
    _put(cache_home, "Shared/f/next.bin", pattern(MiB, 2), age=20)
    await _browse(cache_home, "Shared/f")
    writing, release = threading.Event(), threading.Event()
    write = BlobWriter.write

    def held_write(self: BlobWriter, piece: Sequence[bytes]) -> None:
        writing.set()
        release.wait(5)  # the first piece waits until the test let the NAS fall asleep
        write(self, piece)

    monkeypatch.setattr(BlobWriter, "write", held_write)
    warmer = _warmer(cache_home, 100 * MiB)
    await warmer.start()
    try:
        burst = asyncio.create_task(warmer.run_once())
        await eventually(writing.is_set)
        await cache_home.home.pi_believes_nas_sleeps()
        before = cache_home.nas_requests()
        release.set()
        report = await burst
    finally:
        release.set()
        await warmer.aclose()

    assert (report.files, report.stopped) == (0, STOPPED_ASLEEP)
    assert _cached(cache_home) == set()
    assert cache_home.nas_requests() == before  # the next file was not asked for
    await cache_home.settled()
    assert cache_home.temp_files() == []


async def test_a_burst_asks_the_nas_as_background_work(cache_home: CacheHome) -> None:
    """The gate holds a burst's requests from a NAS that fell asleep: none go as a user's."""
    gate = cache_home.home.services.nas_gate
    assert gate is not None
    _put(cache_home, "Shared/photos/new.bin", pattern(MiB, 1), age=60)
    await _browse(cache_home, "Shared/photos")
    await cache_home.home.nas_sleeps()
    await cache_home.home.nas_wakes()
    users, background = gate.sent[Purpose.USER], gate.sent[Purpose.BACKGROUND]

    report = await _warmer(cache_home, 10 * MiB).run_once()

    assert report.files == 1
    assert gate.sent[Purpose.USER] == users
    assert gate.sent[Purpose.BACKGROUND] > background
