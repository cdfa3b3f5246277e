"""What the cache keeps and what it lets go: integrity checks, eviction, pins, pending uploads."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

from balupi.services.auth import AuthenticatedUser
from balupi.services.cache import FileDelivery, LocalFile
from tests.auth.home import HomeFactory
from tests.cache.conftest import CacheHome, MiB, pattern
from tests.waiting import eventually


async def _cache(cache_home: CacheHome, path: str, data: bytes, user: str = "maria") -> None:
    cache_home.put(path, data)
    response = await cache_home.download(user, path)
    assert response.content == data
    await cache_home.settled()


async def test_corrupt_bytes_are_found_on_verify_and_fetched_again(
    cache_home: CacheHome,
) -> None:
    data = pattern(2 * MiB, seed=11)
    await _cache(cache_home, "Shared/raw/img.dng", data)
    entry = cache_home.cache.catalog.get("Shared/raw/img.dng")
    assert entry is not None
    blob = cache_home.cache.store.blob(entry.sha256)
    with blob.open("r+b") as handle:  # one flipped byte in the middle, as a failing SSD would
        handle.seek(MiB)
        original = handle.read(1)
        handle.seek(MiB)
        handle.write(bytes([original[0] ^ 0xFF]))

    admin = cache_home.auth("admin")
    clean = await cache_home.home.pi.post(
        "/api/cache/verify", params={"path": "Shared/menu-none.txt"}, headers=admin
    )
    assert clean.json()["checked"] == 0
    before = cache_home.nas_requests()
    report = await cache_home.home.pi.post("/api/cache/verify", headers=admin)
    assert report.status_code == 200
    assert report.json() == {
        "checked": 1,
        "corrupt": ["Shared/raw/img.dng"],
        "refetched": ["Shared/raw/img.dng"],
    }
    assert cache_home.nas_requests() == before + 1
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == entry.sha256
    again = await cache_home.download("maria", "Shared/raw/img.dng")
    assert (again.headers["x-balupi-cache"], again.content) == ("hit", data)
    stats = (await cache_home.home.pi.get("/api/cache/stats", headers=admin)).json()
    assert stats["corrupt_found"] == 1
    forbidden = await cache_home.home.pi.post("/api/cache/verify", headers=cache_home.auth("bob"))
    assert forbidden.status_code == 403


async def test_identical_files_are_stored_once(cache_home: CacheHome) -> None:
    data = pattern(MiB, seed=2)
    await _cache(cache_home, "Shared/a/copy1.jpg", data)
    await _cache(cache_home, "Shared/b/copy2.jpg", data)
    catalog = cache_home.cache.catalog
    assert len(catalog) == 2
    assert catalog.stored_bytes == MiB
    assert len(list(cache_home.cache.store.objects.glob("*/*"))) == 1


async def test_eviction_spares_pins_pending_uploads_and_open_files(
    cache_home: CacheHome,
) -> None:
    cache = cache_home.cache
    for index in range(6):
        await _cache(cache_home, f"Shared/set/{index}.bin", pattern(MiB, seed=100 + index))
    auth = cache_home.auth("maria")
    pinned = await cache_home.home.pi.put(
        "/api/cache/pins", params={"path": "Shared/set/0.bin"}, headers=auth
    )
    assert pinned.json() == {"path": "Shared/set/0.bin", "pinned": True, "size": MiB}
    # a pending upload (issue 5) registered by the upload service: served, never evicted
    upload = cache_home.storage.parent / "pending.bin"
    upload.write_bytes(b"not on the NAS yet")
    cache.local.register(
        "maria/pending.bin", LocalFile(upload, upload.stat().st_size, datetime.now(UTC))
    )
    # a download that is still being sent holds its file
    held = await cache.download(await _user(cache_home, "maria"), "Shared/set/1.bin")
    assert isinstance(held, FileDelivery)

    cache.tuning = replace(cache.tuning, max_bytes=4 * MiB)  # 6 MiB stored: far over 85 %
    freed = await cache.evict()
    held.release()

    assert freed > 0
    kept = {entry.path for entry in cache.catalog}
    assert {"Shared/set/0.bin", "Shared/set/1.bin"} <= kept
    assert cache.catalog.stored_bytes <= 4 * MiB * cache.tuning.low_watermark
    assert upload.exists()
    served = await cache_home.download("maria", "maria/pending.bin")
    assert (served.headers["x-balupi-cache"], served.content) == ("local", b"not on the NAS yet")
    stats = (await cache_home.home.pi.get("/api/cache/stats", headers=auth)).json()
    assert stats["evictions"] == 6 - len(kept)
    assert stats["pinned"] == 1
    assert stats["dirty_bytes"] == upload.stat().st_size
    assert stats["budget_bytes"] == 4 * MiB

    unpinned = await cache_home.home.pi.delete(
        "/api/cache/pins", params={"path": "Shared/set/0.bin"}, headers=auth
    )
    assert unpinned.json()["pinned"] is False
    assert (await cache_home.home.pi.get("/api/cache/pins", headers=auth)).json() == {"pins": []}


async def _user(cache_home: CacheHome, username: str) -> AuthenticatedUser:
    token = cache_home.home.nas_access_token(username)
    return await cache_home.home.services.auth.authenticate(token)


async def test_stats_count_hits_and_misses_by_requests_and_bytes(cache_home: CacheHome) -> None:
    await _cache(cache_home, "Shared/s.bin", pattern(1000, seed=1))
    for _ in range(3):
        await cache_home.download("maria", "Shared/s.bin")
    stats = (
        await cache_home.home.pi.get("/api/cache/stats", headers=cache_home.auth("maria"))
    ).json()
    assert stats["requests"]["hits"] == 3
    assert stats["requests"]["misses"] == 1
    assert stats["bytes_served"] == {"hits": 3000, "misses": 1000, "passes": 0, "local": 0}
    assert stats["hit_ratio"] == 0.75
    assert stats["byte_hit_ratio"] == 0.75
    assert stats["entries"] == 1
    assert stats["hottest"][0]["path"] == "Shared/s.bin"
    assert stats["hottest"][0]["hits"] == 3
    unauthenticated = await cache_home.home.pi.get("/api/cache/stats")
    assert unauthenticated.status_code == 401


async def test_access_counts_reach_the_database_in_one_flush(cache_home: CacheHome) -> None:
    await _cache(cache_home, "Shared/f.bin", b"x" * 10)
    for _ in range(5):
        await cache_home.download("maria", "Shared/f.bin")
    assert await cache_home.cache.catalog.flush() == 1
    assert await cache_home.cache.catalog.flush() == 0  # nothing new: no write at all


async def test_renamed_file_stays_cached_and_deleted_one_leaves(cache_home: CacheHome) -> None:
    data = pattern(100_000, seed=21)
    await _cache(cache_home, "maria/album/a.jpg", data)
    await _cache(cache_home, "maria/album/b.jpg", pattern(1000, seed=22))
    cache = cache_home.cache
    (cache_home.storage / "maria/album").rename(cache_home.storage / "maria/trip")
    await cache.moved("maria/album", "maria/trip")  # what the listing service reports
    assert cache.catalog.get("maria/album/a.jpg") is None
    before = cache_home.nas_requests()
    moved = await cache_home.download("maria", "maria/trip/a.jpg")
    assert (moved.headers["x-balupi-cache"], moved.content) == ("hit", data)
    assert cache_home.nas_requests() == before

    await cache.removed("maria/trip/b.jpg")
    assert cache.catalog.get("maria/trip/b.jpg") is None
    assert cache.catalog.get("maria/trip/a.jpg") is not None
    await cache.removed("maria/trip")
    assert len(cache.catalog) == 0
    await cache_home.settled()
    await eventually(lambda: not list(cache.store.objects.glob("*/*")))


async def test_entries_and_counts_survive_a_restart(make_home: HomeFactory) -> None:
    data = pattern(50_000, seed=31)
    async with make_home(secret=True, name="restart") as home:
        first = CacheHome(home)
        await _cache(first, "Shared/keep.bin", data)
        await first.download("maria", "Shared/keep.bin")  # a hit, counted in memory only
    async with make_home(secret=True, name="restart") as home:
        second = CacheHome(home)
        await home.nas_sleeps()
        served = await second.download("maria", "Shared/keep.bin")
        assert (served.headers["x-balupi-cache"], served.content) == ("hit", data)
        entry = second.cache.catalog.get("Shared/keep.bin")
        assert entry is not None
        assert entry.hits == 2  # the hit before the restart was flushed at shutdown
