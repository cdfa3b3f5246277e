"""Delete, folder, rename and move through BaluPi while the NAS is awake; the caches follow."""

from __future__ import annotations

import pytest

from tests.files.conftest import FilesHome, HomeFactory
from tests.waiting import eventually


async def file_id_of(home: FilesHome, user: str, folder: str, name: str) -> int:
    item = next(i for i in await home.items(user, folder) if i["name"] == name)
    file_id = item["file_id"]
    assert isinstance(file_id, int)
    return file_id


async def test_rename_updates_the_nas_and_the_cached_listing(make_home: HomeFactory) -> None:
    async with make_home() as home:
        file_id = await file_id_of(home, "alice", "alice/docs", "a.txt")

        response = await home.send(
            "alice",
            "PUT",
            "/api/files/rename",
            json={"old_path": "alice/docs/a.txt", "new_name": "z.txt"},
        )

        assert (response.status_code, response.json()) == (200, {"message": "Renamed"})
        assert home.nas_disk("alice/docs/z.txt").read_bytes() == b"alice's a"
        await home.pi_believes_nas_sleeps()
        assert await home.names("alice", "alice/docs") == ["old", "B.txt", "z.txt"]
        assert await file_id_of(home, "alice", "alice/docs", "z.txt") == file_id


async def test_a_moved_folder_stays_browsable_under_its_new_path(make_home: HomeFactory) -> None:
    async with make_home() as home:
        await home.items("alice", "alice")
        await home.items("alice", "alice/docs")  # (gives "old" a NAS row, owned by alice)
        old_items = await home.items("alice", "alice/docs/old")

        response = await home.send(
            "alice",
            "PUT",
            "/api/files/move",
            json={"source_path": "alice/docs/old", "target_path": "alice/older"},
        )

        assert (response.status_code, response.json()) == (200, {"message": "Moved"})
        assert home.nas_disk("alice/older/c.txt").is_file()
        await home.pi_believes_nas_sleeps()
        assert await home.names("alice", "alice") == ["docs", "older"]
        assert "old" not in await home.names("alice", "alice/docs")
        moved = await home.items("alice", "alice/older")
        assert [(i["name"], i["file_id"]) for i in moved] == [
            (i["name"], i["file_id"]) for i in old_items
        ]
        assert moved[0]["path"] == "alice/older/c.txt"
        gone = await home.listing("alice", "alice/docs/old", **{"X-Sync-Trigger": "auto"})
        assert gone.status_code == 503  # not known any more: only the NAS could answer


async def test_baluapps_destination_path_moves_into_a_folder(make_home: HomeFactory) -> None:
    async with make_home() as home:
        await home.items("alice", "alice/docs/old")

        response = await home.send(
            "alice",
            "PUT",
            "/api/files/move",
            json={"source_path": "alice/docs/a.txt", "destination_path": "alice/docs/old"},
        )

        assert (response.status_code, response.json()) == (200, {"message": "Moved"})
        assert home.nas_disk("alice/docs/old/a.txt").is_file()
        await home.pi_believes_nas_sleeps()
        assert await home.names("alice", "alice/docs/old") == ["a.txt", "c.txt"]
        assert "a.txt" not in await home.names("alice", "alice/docs")


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("DELETE", "/api/files/alice/docs/a.txt", None),
        ("POST", "/api/files/delete", {"path": "alice/docs/a.txt"}),
        ("DELETE", "/api/files/delete", {"path": "/alice/docs/a.txt"}),
        ("DELETE", "/api/files/raw/alice/docs/a.txt", None),
    ],
)
async def test_delete_updates_the_nas_and_the_cached_listing(
    make_home: HomeFactory, method: str, url: str, body: dict[str, str] | None
) -> None:
    async with make_home() as home:
        await home.items("alice", "alice/docs")

        response = await home.send("alice", method, url, json=body)

        assert (response.status_code, response.json()) == (200, {"message": "Deleted"})
        assert not home.nas_disk("alice/docs/a.txt").exists()
        await home.pi_believes_nas_sleeps()
        assert await home.names("alice", "alice/docs") == ["old", "B.txt"]


async def test_baludesks_query_delete_is_done_without_a_redirect(make_home: HomeFactory) -> None:
    async with make_home() as home:
        response = await home.send(
            "alice", "DELETE", "/api/files", params={"path": "alice/docs/B.txt"}
        )

        assert (response.status_code, response.json()) == (200, {"message": "Deleted"})
        assert not home.nas_disk("alice/docs/B.txt").exists()
        assert "B.txt" not in await home.nas_names("alice", "alice/docs")


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("DELETE", "/api/files", {"params": {"path": ""}}),
        ("DELETE", "/api/files", {}),
        ("DELETE", "/api/files/", {"params": {"path": "/"}}),
        ("DELETE", "/api/files/delete", {"json": {"path": "/"}}),
        ("POST", "/api/files/delete", {"json": {"path": "./"}}),
        ("DELETE", "/api/files/raw/", {}),
        ("DELETE", "/api/files/%2F", {}),
        ("DELETE", "/api/files//", {}),
        ("PUT", "/api/files/move", {"json": {"source_path": "", "target_path": "Shared/x"}}),
        ("PUT", "/api/files/rename", {"json": {"old_path": "/", "new_name": "x"}}),
    ],
)
async def test_an_empty_path_is_refused_and_never_forwarded(
    make_home: HomeFactory, method: str, url: str, kwargs: dict[str, object]
) -> None:
    async with make_home() as home:
        await home.auth("admin")  # the dangerous case: for an admin the NAS deletes everything
        served = home.nas_requests()

        response = await home.send("admin", method, url, **kwargs)

        assert response.status_code == 400
        assert "without a path" in response.json()["detail"]
        assert home.nas_requests() == served
        assert home.nas_disk("Shared/photos/Beach.jpg").is_file()


@pytest.mark.parametrize(
    "url", ["/api/files/Shared/..", "/api/files/%2E%2E", "/api/files/raw/a/%2E%2E"]
)
async def test_a_dot_dot_delete_is_400_and_never_forwarded(
    make_home: HomeFactory, url: str
) -> None:
    async with make_home() as home:
        await home.auth("admin")  # an admin's ``..`` resolves on the NAS: here, to the root
        served = home.nas_requests()

        response = await home.send("admin", "DELETE", url)

        assert response.status_code == 400
        assert home.nas_requests() == served


async def test_new_folders_show_in_the_cached_listing(make_home: HomeFactory) -> None:
    async with make_home() as home:
        await home.items("alice", "alice")

        folder = await home.send(
            "alice", "POST", "/api/files/folder", json={"path": "alice", "name": "Music"}
        )
        legacy = await home.send("alice", "POST", "/api/files/mkdir", json={"path": "/alice/Video"})

        assert (folder.status_code, folder.json()) == (200, {"message": "Folder created"})
        assert (legacy.status_code, legacy.json()) == (200, {"message": "Folder created"})
        await home.pi_believes_nas_sleeps()
        listed = await home.items("alice", "alice")
        assert [i["name"] for i in listed] == ["docs", "Music", "Video"]
        assert all(isinstance(i["file_id"], int) for i in listed)


async def test_a_folder_needs_a_name(make_home: HomeFactory) -> None:
    async with make_home() as home:
        response = await home.send(
            "alice", "POST", "/api/files/folder", json={"path": "alice", "name": ""}
        )
        assert (response.status_code, response.json()) == (400, {"detail": "Folder name required"})


async def test_baludesk_deletes_and_renames_by_file_id(make_home: HomeFactory) -> None:
    async with make_home() as home:
        a_id = await file_id_of(home, "alice", "alice/docs", "a.txt")
        b_id = await file_id_of(home, "alice", "alice/docs", "B.txt")

        deleted = await home.send("alice", "DELETE", f"/api/files/{a_id}")
        renamed = await home.send(
            "alice", "PUT", "/api/files/rename", json={"file_id": b_id, "new_name": "b2.txt"}
        )

        assert (deleted.status_code, deleted.json()) == (200, {"message": "Deleted"})
        assert (renamed.status_code, renamed.json()) == (200, {"message": "Renamed"})
        assert await home.nas_names("alice", "alice/docs") == ["old", "b2.txt"]


async def test_an_unknown_file_id_is_404_and_nothing_is_deleted(make_home: HomeFactory) -> None:
    async with make_home() as home:
        response = await home.send(
            "alice", "PUT", "/api/files/rename", json={"file_id": 99999, "new_name": "x.txt"}
        )
        assert (response.status_code, response.json()) == (404, {"detail": "File not found"})


async def test_a_stale_file_id_does_not_touch_the_file_now_at_its_path(
    make_home: HomeFactory,
) -> None:
    async with make_home() as home:
        a_id = await file_id_of(home, "alice", "alice/docs", "a.txt")
        async with home.direct() as nas:  # behind the Pi's back: a.txt goes, a new one comes
            await nas.delete("/api/files/alice/docs/a.txt", headers=await home.auth("alice"))
        await home.upload("alice", "alice/docs", "a.txt", b"a new file, a new id")

        response = await home.send("alice", "DELETE", f"/api/files/{a_id}")

        assert response.status_code == 404
        assert home.nas_disk("alice/docs/a.txt").read_bytes() == b"a new file, a new id"


async def test_the_nas_refusal_is_passed_back(make_home: HomeFactory) -> None:
    async with make_home() as home:
        response = await home.send("alice", "DELETE", "/api/files/bob/private/notes.md")

        assert (response.status_code, response.json()) == (403, {"detail": "Access denied"})
        assert home.nas_disk("bob/private/notes.md").is_file()


async def test_mutations_while_the_nas_sleeps_are_kept_for_later(
    make_home: HomeFactory,
) -> None:
    async with make_home() as home:
        await home.auth("alice")
        await home.pi_believes_nas_sleeps()
        served = home.nas_requests()

        response = await home.send(
            "alice", "DELETE", "/api/files/alice/docs/a.txt", headers={"X-Sync-Trigger": "auto"}
        )

        # Kept in the queue (issue 5): answered as the NAS answers, sent to it once it is back.
        assert (response.status_code, response.json()) == (200, {"message": "Deleted"})
        assert home.nas_requests() == served
        assert home.nas_disk("alice/docs/a.txt").is_file()
        status = await home.send("alice", "GET", "/api/files/sync/status")
        assert status.json()["pending_count"] == 1


async def test_a_mutation_kept_while_asleep_is_replayed_once_the_nas_wakes(
    make_home: HomeFactory,
) -> None:
    async with make_home(boot_seconds=0.2, wake_wait_seconds=10) as home:
        await home.auth("alice")
        await home.nas_sleeps()

        response = await home.send("alice", "DELETE", "/api/files/alice/docs/a.txt")
        assert (response.status_code, response.json()) == (200, {"message": "Deleted"})
        assert home.services.nas_waker.packets_sent == 0  # a change alone wakes nobody

        await home.services.nas_waker.wake("test")
        await eventually(lambda: not home.nas_disk("alice/docs/a.txt").exists(), 10)
