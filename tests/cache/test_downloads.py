"""Downloads through the cache, against the NAS emulator over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import hashlib

import httpx

from tests.cache.conftest import CacheHome, MiB, pattern


async def test_second_download_is_a_hit_with_identical_bytes(cache_home: CacheHome) -> None:
    data = cache_home.put("Shared/photos/beach.jpg", pattern(3 * MiB))
    before = cache_home.nas_requests()

    first = await cache_home.download("maria", "Shared/photos/beach.jpg")
    assert first.status_code == 200
    assert first.headers["x-balupi-cache"] == "miss"
    assert first.content == data
    await cache_home.settled()
    assert cache_home.nas_requests() == before + 1

    second = await cache_home.download("maria", "Shared/photos/beach.jpg")
    assert second.status_code == 200
    assert second.headers["x-balupi-cache"] == "hit"
    assert second.content == data
    assert cache_home.nas_requests() == before + 1  # the NAS was not asked again
    for header in ("etag", "last-modified", "content-disposition", "content-type"):
        assert second.headers[header] == first.headers[header]


async def test_both_download_forms_and_plus_for_space(cache_home: CacheHome) -> None:
    data = cache_home.put("Shared/My Photos/two words.txt", b"hello, spaces")
    pi = cache_home.home.pi
    auth = cache_home.auth("maria")

    by_query = await pi.get(
        "/api/files/download", params={"path": "Shared/My Photos/two words.txt"}, headers=auth
    )
    assert by_query.status_code == 200
    assert by_query.content == data
    # BaluApp's preview URL: URLEncoder turns "/" into %2F and a space into "+".
    encoded = await pi.get("/api/files/download/Shared%2FMy+Photos%2Ftwo+words.txt", headers=auth)
    assert encoded.status_code == 200
    assert encoded.content == data


async def test_nas_answers_are_passed_on(cache_home: CacheHome) -> None:
    missing = await cache_home.download("maria", "Shared/nothing-here.txt")
    assert (missing.status_code, missing.json()) == (404, {"detail": "File not found"})
    cache_home.put("bob/diary.txt", b"dear diary")
    refused = await cache_home.download("maria", "bob/diary.txt")
    assert (refused.status_code, refused.json()) == (403, {"detail": "Access denied"})
    dots = await cache_home.download("maria", "Shared/../bob/diary.txt")
    assert dots.status_code in (400, 403, 404)  # an HTTP client may resolve ".." itself


async def test_range_answers_on_a_hit_equal_the_nas(cache_home: CacheHome) -> None:
    data = cache_home.put("Shared/video.bin", pattern(2 * MiB + 123, seed=7))
    warm = await cache_home.download("maria", "Shared/video.bin")
    assert warm.content == data
    await cache_home.settled()
    etag = warm.headers["etag"]
    last_modified = warm.headers["last-modified"]

    cases = [
        {"Range": "bytes=0-99"},
        {"Range": "bytes=1000-"},
        {"Range": "bytes=-500"},
        {"Range": "bytes=0-0,100-199,5000-5999"},
        {"Range": "bytes=0-10,5-20"},  # overlapping: merged
        {"Range": f"bytes={len(data)}-"},  # unsatisfiable: 416
        {"Range": "bytes=10-20", "If-Range": etag},
        {"Range": "bytes=10-20", "If-Range": last_modified},
        {"Range": "bytes=10-20", "If-Range": '"not-the-etag"'},  # full body
        {"Range": "lines=1-2"},  # malformed: 400
    ]
    for headers in cases:
        pi = await cache_home.download("maria", "Shared/video.bin", **headers)
        nas = await cache_home.from_nas("maria", "Shared/video.bin", **headers)
        assert pi.headers.get("x-balupi-cache") in ("hit", None), headers
        assert pi.status_code == nas.status_code, headers
        for name in ("content-range", "accept-ranges", "etag", "last-modified"):
            assert pi.headers.get(name) == nas.headers.get(name), (headers, name)
        assert _unbounded(pi) == _unbounded(nas), headers
        assert pi.headers.get("content-length") == nas.headers.get("content-length"), headers


def _unbounded(response: httpx.Response) -> tuple[str, bytes]:
    """Content type and body with a multipart boundary (random per answer) made neutral."""
    content_type = response.headers.get("content-type", "")
    body = response.content
    if "boundary=" in content_type:
        boundary = content_type.split("boundary=", 1)[1]
        content_type = content_type.replace(boundary, "B")
        body = body.replace(boundary.encode(), b"B")
    return content_type, body


async def test_twenty_simultaneous_misses_make_one_nas_download(cache_home: CacheHome) -> None:
    data = cache_home.put("Shared/album/hot.jpg", pattern(8 * MiB, seed=3))
    before = cache_home.nas_requests()
    answers = await asyncio.gather(
        *(cache_home.download("maria", "Shared/album/hot.jpg") for _ in range(20))
    )
    assert [a.status_code for a in answers] == [200] * 20
    assert all(a.content == data for a in answers)
    await cache_home.settled()
    assert cache_home.nas_requests() == before + 1
    assert cache_home.cache.counters.misses == 20


async def test_a_miss_is_read_from_the_temp_file_where_the_server_has_no_zero_copy(
    cache_home: CacheHome,
) -> None:
    """Under BaluPi's server a miss goes out by sendfile; elsewhere its bytes are read."""
    data = cache_home.put("Shared/album/plain.jpg", pattern(3 * MiB + 7, seed=4))
    transport = httpx.ASGITransport(app=cache_home.home.app)  # offers no ASGI extensions
    async with httpx.AsyncClient(transport=transport, base_url="http://pi.test") as client:
        answer = await client.get(
            "/api/files/download/Shared/album/plain.jpg", headers=cache_home.auth("maria")
        )
    assert answer.headers["x-balupi-cache"] == "miss"
    assert answer.content == data
    await cache_home.settled()
    assert cache_home.cache.catalog.get("Shared/album/plain.jpg") is not None


async def test_client_killed_mid_miss_leaves_no_entry(cache_home: CacheHome) -> None:
    size = 256 * MiB
    data = cache_home.put("Shared/big/movie.bin", pattern(size, seed=5))
    async with (
        httpx.AsyncClient(base_url=cache_home.home.pi_url) as client,
        client.stream(
            "GET", "/api/files/download/Shared/big/movie.bin", headers=cache_home.auth("maria")
        ) as response,
    ):
        assert response.headers["x-balupi-cache"] == "miss"
        async for _ in response.aiter_raw():
            break  # one piece, then the client goes away (its connection closes)
    await cache_home.settled()
    assert cache_home.cache.catalog.get("Shared/big/movie.bin") is None
    assert cache_home.temp_files() == []
    assert cache_home.cache.counters.fills_failed == 1

    again = await cache_home.download("maria", "Shared/big/movie.bin")
    assert again.status_code == 200
    assert hashlib.sha256(again.content).digest() == hashlib.sha256(data).digest()
    await cache_home.settled()
    entry = cache_home.cache.catalog.get("Shared/big/movie.bin")
    assert entry is not None
    assert entry.size == size


async def test_nas_asleep_serves_what_was_seen_and_keeps_the_jail(
    cache_home: CacheHome,
) -> None:
    mine = cache_home.put("maria/notes.txt", b"maria's notes")
    cache_home.put("bob/private.txt", b"bob's secret")
    shared = cache_home.put("Shared/menu.txt", b"pizza")
    assert (await cache_home.download("maria", "maria/notes.txt")).content == mine
    assert (await cache_home.download("maria", "Shared/menu.txt")).content == shared
    assert (await cache_home.download("admin", "bob/private.txt")).status_code == 200
    await cache_home.settled()
    assert cache_home.cache.catalog.get("bob/private.txt") is not None

    await cache_home.home.nas_sleeps()
    before = cache_home.nas_requests()
    hit = await cache_home.download("maria", "maria/notes.txt")
    assert (hit.status_code, hit.content, hit.headers["x-balupi-cache"]) == (200, mine, "hit")
    assert (await cache_home.download("maria", "Shared/menu.txt")).content == shared
    refused = await cache_home.download("maria", "bob/private.txt")
    assert (refused.status_code, refused.json()) == (403, {"detail": "Access denied"})
    assert (await cache_home.download("bob", "bob/private.txt")).status_code == 200

    cache_home.put("Shared/new.txt", b"never fetched")
    missing = await cache_home.download("maria", "Shared/new.txt", **{"X-Sync-Trigger": "auto"})
    assert missing.status_code == 503
    assert int(missing.headers["retry-after"]) > 0
    assert cache_home.nas_requests() == before  # not one request reached the sleeping NAS
    assert cache_home.cache.counters.served_while_nas_down == 3


async def test_large_file_is_streamed_but_not_cached(cache_home: CacheHome) -> None:
    cache = cache_home.cache
    cache.tuning = cache.tuning.__class__(**{**cache.tuning.__dict__, "max_file_bytes": 4 * MiB})
    data = cache_home.put("Shared/huge.iso", pattern(6 * MiB, seed=9))
    first = await cache_home.download("maria", "Shared/huge.iso")
    assert (first.status_code, first.headers["x-balupi-cache"]) == (200, "pass")
    assert first.content == data
    await cache_home.settled()
    assert cache.catalog.get("Shared/huge.iso") is None
    assert cache_home.temp_files() == []
    second = await cache_home.download("maria", "Shared/huge.iso")
    assert second.headers["x-balupi-cache"] == "pass"


async def test_changed_file_is_refetched_after_the_revalidation_age(
    cache_home: CacheHome,
) -> None:
    cache_home.put("Shared/doc.txt", b"version one")
    assert (await cache_home.download("maria", "Shared/doc.txt")).content == b"version one"
    await cache_home.settled()
    cache_home.put("Shared/doc.txt", b"version two, longer")
    young = await cache_home.download("maria", "Shared/doc.txt")
    assert young.content == b"version one"  # within the age: served without asking
    cache_home.home.clock.advance(cache_home.cache.tuning.revalidate_seconds + 1)
    old = await cache_home.download("maria", "Shared/doc.txt")
    assert old.content == b"version two, longer"
    assert cache_home.cache.counters.stale_refetches == 1
    await cache_home.settled()
    again = await cache_home.download("maria", "Shared/doc.txt")
    assert (again.headers["x-balupi-cache"], again.content) == ("hit", b"version two, longer")


async def test_a_fresh_listing_revalidates_without_asking_the_nas(cache_home: CacheHome) -> None:
    cache_home.put("Shared/listed/a.txt", b"first")
    cache_home.put("Shared/listed/b.txt", b"second")
    for name in ("a.txt", "b.txt"):
        assert (await cache_home.download("maria", f"Shared/listed/{name}")).status_code == 200
    await cache_home.settled()
    cache_home.put("Shared/listed/b.txt", b"second, changed")
    cache_home.home.clock.advance(cache_home.cache.tuning.revalidate_seconds + 1)
    listed = await cache_home.home.pi.get(
        "/api/files/list", params={"path": "Shared/listed"}, headers=cache_home.auth("maria")
    )
    assert listed.status_code == 200
    before = cache_home.nas_requests()

    same = await cache_home.download("maria", "Shared/listed/a.txt")
    assert (same.headers["x-balupi-cache"], same.content) == ("hit", b"first")
    assert cache_home.nas_requests() == before  # the listing said: unchanged
    changed = await cache_home.download("maria", "Shared/listed/b.txt")
    assert (changed.headers["x-balupi-cache"], changed.content) == ("miss", b"second, changed")
    assert cache_home.nas_requests() == before + 1  # the refetch only, no probe
