"""``GET /api/files/list`` through BaluPi: the NAS's answer while awake, the cache while not."""

from __future__ import annotations

import asyncio

from balupi.db.models import NasState
from tests.files.conftest import HomeFactory

ACCESS_DENIED = {"detail": "Access denied"}


async def test_awake_listing_is_the_nas_answer_byte_for_byte(make_home: HomeFactory) -> None:
    async with make_home() as home:
        via_pi = await home.listing("admin", "Shared/photos")
        direct = await home.nas_list("admin", "Shared/photos")

        assert via_pi.status_code == direct.status_code == 200
        assert via_pi.headers["x-balupi-source"] == "nas"
        assert via_pi.content == direct.content
        assert [i["name"] for i in via_pi.json()["files"]] == ["2024", "alps.jpg", "Beach.jpg"]


async def test_asleep_the_same_listing_comes_from_the_cache_without_a_nas_request(
    make_home: HomeFactory,
) -> None:
    async with make_home() as home:
        awake = {path: await home.items("alice", path) for path in ("alice/docs", "Shared/photos")}
        await home.pi_believes_nas_sleeps()
        served = home.nas_requests()
        home.clock.advance(90)

        for path, items in awake.items():
            response = await home.listing("alice", path)
            assert response.status_code == 200
            assert response.json()["files"] == items
            assert response.headers["x-balupi-source"] == "cache"
            assert response.headers["x-balupi-age"] == "90"
            assert response.headers["x-balupi-listed-at"].endswith("Z")
        assert home.nas_requests() == served


async def test_cached_items_keep_the_nas_fields(make_home: HomeFactory) -> None:
    async with make_home() as home:
        awake = await home.items("alice", "alice/docs")
        await home.pi_believes_nas_sleeps()
        asleep = await home.items("alice", "alice/docs")

        a_txt = next(item for item in asleep if item["name"] == "a.txt")
        assert a_txt == next(item for item in awake if item["name"] == "a.txt")
        assert isinstance(a_txt["file_id"], int)
        assert isinstance(a_txt["owner_id"], str)
        assert len(a_txt["checksum"]) == 64
        assert a_txt["modified_at"].endswith("Z")


async def test_an_unknown_folder_while_asleep_wakes_the_nas_and_answers_503(
    make_home: HomeFactory,
) -> None:
    async with make_home(boot_seconds=0.5, wake_wait_seconds=0.05) as home:
        await home.nas_sleeps()

        response = await home.listing("alice", "alice/docs")

        assert response.status_code == 503
        assert int(response.headers["retry-after"]) > 0
        assert response.json()["retry_after"] == int(response.headers["retry-after"])
        assert home.services.nas_waker.packets_sent == 1
        assert await home.services.nas_link.wait_online(10), "the magic packet did not wake it"
        again = await home.listing("alice", "alice/docs")
        assert again.status_code == 200
        assert again.headers["x-balupi-source"] == "nas"


async def test_an_interactive_listing_waits_for_the_wake(make_home: HomeFactory) -> None:
    async with make_home(boot_seconds=0.2, wake_wait_seconds=10) as home:
        await home.nas_sleeps()

        response = await home.listing("alice", "alice/docs")

        assert response.status_code == 200
        assert response.headers["x-balupi-source"] == "nas"
        assert home.services.nas_link.state is NasState.ONLINE


async def test_an_automatic_sync_never_wakes_the_nas(make_home: HomeFactory) -> None:
    async with make_home() as home:
        await home.pi_believes_nas_sleeps()
        served = home.nas_requests()

        response = await home.listing("alice", "alice/docs", **{"X-Sync-Trigger": "auto"})

        assert response.status_code == 503
        assert "retry-after" in response.headers
        assert home.services.nas_waker.packets_sent == 0
        assert home.nas_requests() == served


async def test_a_cached_folder_never_wakes_the_nas(make_home: HomeFactory) -> None:
    async with make_home() as home:
        await home.listing("alice", "alice/docs")
        await home.pi_believes_nas_sleeps()

        assert (await home.listing("alice", "alice/docs")).status_code == 200
        assert home.services.nas_waker.packets_sent == 0
        assert home.services.nas_link.state is NasState.SLEEPING


async def test_alice_is_refused_bobs_home_while_asleep_though_admin_listed_it(
    make_home: HomeFactory,
) -> None:
    async with make_home() as home:
        assert "notes.md" in await home.names("admin", "bob/private")
        assert await home.names("admin", "bob") == ["private"]
        awake = await home.listing("alice", "bob/private")
        assert (awake.status_code, awake.json()) == (403, ACCESS_DENIED)  # the NAS's answer
        await home.pi_believes_nas_sleeps()
        served = home.nas_requests()

        for path in ("bob", "bob/private"):
            asleep = await home.listing("alice", path)
            assert (asleep.status_code, asleep.json()) == (403, ACCESS_DENIED)
        assert await home.names("admin", "bob/private") == ["notes.md"]
        assert home.nas_requests() == served


async def test_a_users_home_listed_by_an_admin_hides_what_the_nas_hides(
    make_home: HomeFactory,
) -> None:
    async with make_home() as home:
        await home.upload("admin", "alice/docs", "admins.txt", b"not alice's")
        assert "admins.txt" in await home.names("admin", "alice/docs")
        assert "admins.txt" not in await home.nas_names("alice", "alice/docs")
        await home.pi_believes_nas_sleeps()

        # alice never listed the folder herself: the admin's listing answers, filtered.
        names = await home.names("alice", "alice/docs")

        assert names == await home.nas_names("alice", "alice/docs")


async def test_dot_dot_is_400_awake_and_asleep_and_never_forwarded(
    make_home: HomeFactory,
) -> None:
    async with make_home() as home:
        await home.auth("alice")
        for believe_asleep in (False, True):
            if believe_asleep:
                await home.pi_believes_nas_sleeps()
            served = home.nas_requests()
            response = await home.listing("alice", "Shared/../bob")
            assert (response.status_code, response.json()) == (400, {"detail": "Invalid path"})
            assert home.nas_requests() == served


async def test_a_users_virtual_root_while_asleep(make_home: HomeFactory) -> None:
    async with make_home() as home:
        awake = await home.items("alice", "")
        await home.pi_believes_nas_sleeps()
        asleep = await home.items("alice", "/")

        def shape(items: list[dict[str, object]]) -> list[tuple[object, ...]]:
            keys = ("name", "path", "size", "type", "file_id", "owner_id")
            return [tuple(item[key] for key in keys) for item in items]

        assert (
            shape(asleep)
            == shape(awake)
            == [
                ("Shared", "Shared", 0, "directory", None, None),
                ("alice", "alice", 0, "directory", None, awake[1]["owner_id"]),
            ]
        )


async def test_a_missing_folder_lists_empty_like_the_nas(make_home: HomeFactory) -> None:
    async with make_home() as home:
        assert await home.items("alice", "Shared/nothing-here") == []
        await home.pi_believes_nas_sleeps()
        assert await home.items("alice", "Shared/nothing-here") == []


async def test_a_file_deleted_on_the_nas_leaves_the_cached_listing(make_home: HomeFactory) -> None:
    async with make_home() as home:
        assert "a.txt" in await home.names("alice", "alice/docs")
        async with home.direct() as nas:
            await nas.delete("/api/files/alice/docs/a.txt", headers=await home.auth("alice"))
        home.clock.advance(home.services.settings.listing_fresh_seconds)  # asked again (stale)
        await home.names("alice", "alice/docs")
        await home.services.files.listing.settled()  # the NAS's new answer refreshes the cache
        await home.pi_believes_nas_sleeps()

        assert "a.txt" not in await home.names("alice", "alice/docs")


async def test_the_nas_errors_are_passed_back(make_home: HomeFactory) -> None:
    async with make_home() as home:
        await home.upload("admin", "Shared", "plain.txt", b"a file, not a folder")

        response = await home.listing("admin", "Shared/plain.txt")  # BaluHost fails on a file

        assert response.status_code == 500
        assert response.json() == (await home.nas_list("admin", "Shared/plain.txt")).json()


async def test_concurrent_listings_of_one_new_folder(make_home: HomeFactory) -> None:
    async with make_home() as home:
        await home.auth("alice")
        answers = await asyncio.gather(*(home.listing("alice", "alice/docs") for _ in range(8)))
        assert {answer.status_code for answer in answers} == {200}
        await home.pi_believes_nas_sleeps()
        assert await home.names("alice", "alice/docs") == ["old", "a.txt", "B.txt"]
