"""The clients' sync calls, answered while the NAS sleeps and forwarded while it is awake."""

from __future__ import annotations

import httpx

from tests.uploads.conftest import ALICE, Home, eventually


async def test_preflight_always_says_go(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/sync/preflight", headers=ALICE)
    assert answer.json() == {
        "sync_allowed": True,
        "current_sleep_state": "awake",
        "sleep_schedule": None,
        "next_sleep_at": None,
        "next_wake_at": None,
        "block_reason": None,
    }


async def test_baludesk_changes_get_the_safe_push_only_answer(client: httpx.AsyncClient) -> None:
    body = {"device_id": "desk-1", "file_list": [{"path": "a.txt", "hash": "", "size": 1}]}
    first = (await client.post("/api/sync/changes", headers=ALICE, json=body)).json()
    second = (await client.post("/api/sync/changes", headers=ALICE, json=body)).json()
    assert first["to_download"] == first["to_delete"] == first["conflicts"] == []
    assert first["change_token"] != second["change_token"]


async def test_sync_calls_need_a_login(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/sync/changes", json={})).status_code == 401


async def test_register_desktop_and_report_folders_while_the_nas_sleeps(home: Home) -> None:
    served = home.nas.nas.requests_served
    async with home.pi() as client:
        registered = await client.post(
            "/api/sync/register-desktop",
            headers=home.token("bob"),
            json={"device_id": "desk-1", "device_name": "Bob's PC"},
        )
        reported = await client.post(
            "/api/sync/report-folders",
            headers=home.token("bob"),
            json={
                "device_id": "desk-1",
                "device_name": "Bob's PC",
                "platform": "linux",
                "folders": [{"remote_path": "bob/Documents", "sync_direction": "bidirectional"}],
            },
        )
    assert registered.json() == {
        "device_id": "desk-1",
        "device_name": "Bob's PC",
        "status": "registered",
        "change_token": None,
    }
    assert reported.json() == {"accepted": 1, "deactivated": 0}
    assert home.nas.nas.requests_served == served


async def test_register_desktop_goes_to_the_nas_while_it_is_awake(home: Home) -> None:
    await home.wake()
    async with home.pi() as client:
        body = {"device_id": "desk-2", "device_name": "Desk"}
        first = await client.post(
            "/api/sync/register-desktop", headers=home.token("bob"), json=body
        )
        again = await client.post(
            "/api/sync/register-desktop", headers=home.token("bob"), json=body
        )
    assert first.json()["status"] == "registered"
    assert again.json()["status"] == "already_registered"  # the NAS remembered it


async def test_baluapp_folder_configs_survive_the_nas_sleeping(home: Home) -> None:
    alice = home.token("alice")
    await home.wake()
    async with home.direct() as nas:
        created = await nas.post(
            "/api/mobile/sync/folders/phone-1",
            headers=alice,
            json={"local_path": "/DCIM/Camera", "remote_path": "alice/Camera"},
        )
    folder_id = created.json()["id"]
    async with home.pi() as client:
        awake = await client.get("/api/mobile/sync/folders/phone-1", headers=alice)
    assert [f["id"] for f in awake.json()] == [folder_id]

    await home.nas.sleep()
    await home.services.nas_link.report_power(3.0)  # the NAS plug says: standby
    async with home.pi() as client:
        asleep = await client.get("/api/mobile/sync/folders/phone-1", headers=alice)
        updated = await client.put(
            f"/api/mobile/sync/folders/{folder_id}", headers=alice, json={"status": "idle"}
        )
    assert asleep.json() == awake.json()  # a bare array, from the Pi's copy
    assert updated.status_code == 200
    assert updated.json()["status"] == "idle"
    assert updated.json()["last_sync"].endswith("Z")

    await home.wake()

    async def forwarded() -> bool:
        async with home.direct() as nas:
            folders = (await nas.get("/api/mobile/sync/folders/phone-1", headers=alice)).json()
        return bool(folders[0]["last_sync"])

    await eventually(forwarded)
