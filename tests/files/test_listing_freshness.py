"""Listings from the metadata cache within ``LISTING_FRESH_SECONDS`` (issue 12, item 3).

While the NAS is awake a folder the NAS listed for the user within the window (default 300 s)
is answered from the cache; an older one is answered from the cache at once and listed again in
the background (stale-while-revalidate), never while the NAS sleeps. The link's loop is stopped
in most tests so its health checks do not blur the NAS's request counter.
"""

from __future__ import annotations

from sqlalchemy import select

from balupi.db.models import QueueStatus, UploadQueueEntry
from tests.files.conftest import FilesHome, HomeFactory
from tests.uploads.conftest import eventually

FRESH_SECONDS = 300  # the default LISTING_FRESH_SECONDS


async def _quiet(home: FilesHome) -> FilesHome:
    await home.services.nas_link.aclose()
    return home


async def test_a_fresh_listing_is_answered_from_the_cache_without_asking_the_nas(
    make_home: HomeFactory,
) -> None:
    async with make_home() as home:
        await _quiet(home)
        first = await home.listing("alice", "alice/docs")
        before = home.nas_requests()
        polls = []
        for _ in range(FRESH_SECONDS // 10 - 1):
            home.clock.advance(10)
            polls.append(await home.listing("alice", "alice/docs"))
        sent = home.nas_requests() - before

    assert first.headers["X-BaluPi-Source"] == "nas"
    assert sent == 0
    assert {poll.headers["X-BaluPi-Source"] for poll in polls} == {"cache"}
    assert all(poll.json() == first.json() for poll in polls)
    assert polls[-1].headers["X-BaluPi-Age"] == str(FRESH_SECONDS - 10)


async def test_a_change_on_the_nas_shows_once_the_window_has_passed(
    make_home: HomeFactory,
) -> None:
    async with make_home() as home:
        await _quiet(home)
        await home.names("alice", "alice/docs")
        await home.upload("alice", "alice/docs", "new.txt", b"made on the NAS")
        within = await home.names("alice", "alice/docs")
        home.clock.advance(FRESH_SECONDS + 1)
        before = home.nas_requests()
        stale = await home.listing("alice", "alice/docs")
        await home.services.files.listing.settled()
        revalidations = home.nas_requests() - before
        after = await home.listing("alice", "alice/docs")
        also_after = await home.listing("alice", "alice/docs")
        sent = home.nas_requests() - before

    assert "new.txt" not in within
    assert stale.status_code == 200  # answered at once, from the cache, with its age
    assert stale.headers["X-BaluPi-Age"] == str(FRESH_SECONDS + 1)
    assert "new.txt" not in [item["name"] for item in stale.json()["files"]]
    assert revalidations == 1
    assert "new.txt" in [item["name"] for item in after.json()["files"]]
    assert after.headers["X-BaluPi-Source"] == "cache"
    assert after.headers["X-BaluPi-Age"] == "0"
    assert also_after.json() == after.json()
    assert sent == 1


async def test_a_folder_never_listed_is_asked_of_the_nas(make_home: HomeFactory) -> None:
    async with make_home() as home:
        await _quiet(home)
        await home.names("alice", "alice/docs")
        before = home.nas_requests()
        old = await home.listing("alice", "alice/docs/old")
        sent = home.nas_requests() - before

    assert old.headers["X-BaluPi-Source"] == "nas"
    assert [item["name"] for item in old.json()["files"]] == ["c.txt"]
    assert sent == 1


async def test_a_stale_listing_is_never_revalidated_while_the_nas_sleeps(
    make_home: HomeFactory,
) -> None:
    async with make_home() as home:
        await _quiet(home)
        await home.names("alice", "alice/docs")
        await home.pi_believes_nas_sleeps()
        home.clock.advance(FRESH_SECONDS * 2)  # the token lives 15 minutes
        before = home.nas_requests()
        stale = await home.listing("alice", "alice/docs")
        await home.services.files.listing.settled()
        sent = home.nas_requests() - before

    assert stale.status_code == 200
    assert stale.headers["X-BaluPi-Source"] == "cache"
    assert sent == 0


async def test_stale_folders_are_listed_again_one_quiet_minute_apart(
    make_home: HomeFactory,
) -> None:
    async with make_home() as home:
        await _quiet(home)
        for user, folder in (("alice", "alice/docs"), ("bob", "bob/private")):
            await home.names(user, folder)
        home.clock.advance(FRESH_SECONDS + 1)
        sent = []
        for _ in range(3):
            before = home.nas_requests()
            for user, folder in (("alice", "alice/docs"), ("bob", "bob/private")):
                got = await home.listing(user, folder)
                assert got.status_code == 200, got.text
            await home.services.files.listing.settled()
            sent.append(home.nas_requests() - before)
            home.clock.advance(60)

    assert sent == [1, 1, 0]


async def test_an_upload_through_the_pi_shows_in_the_listing_once_it_has_landed(
    make_home: HomeFactory,
) -> None:
    """The pending upload shows at once (the overlay); once the queue has pushed it, the cache
    no longer needs the overlay: the folder is listed by the NAS again, not served fresh."""
    async with make_home() as home:
        await home.names("alice", "alice/docs")
        answer = await home.send(
            "alice",
            "POST",
            "/api/files/upload",
            data={"path": "alice/docs/up.txt"},
            files={"file": ("up.txt", b"through the Pi")},
        )
        assert answer.status_code == 200, answer.text
        pending = await home.names("alice", "alice/docs")

        async def synced() -> bool:
            async with home.services.sessions() as session:
                rows = (await session.scalars(select(UploadQueueEntry))).all()
            return bool(rows) and all(row.status is QueueStatus.SYNCED for row in rows)

        await eventually(synced)
        after = await home.listing("alice", "alice/docs")

    assert "up.txt" in pending
    assert "up.txt" in [item["name"] for item in after.json()["files"]]
