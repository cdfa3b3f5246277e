"""Per-user scoping of sync data: conflicts and phone folder configs belong to one user.

Issue 11 finding 2: with policy ``ask`` on ``bob/``, alice saw bob's conflict (path and hashes)
and could resolve it, cancelling his acknowledged upload. Finding 5: while the NAS slept, alice
could read bob's phone folder configs and change them (bob's phone was then served hers).
"""

from __future__ import annotations

import httpx

from balupi.db.models import NasState, QueueStatus
from tests.uploads.conftest import Home, eventually

SECRET = "bob/secret.txt"


async def _bobs_open_conflict(home: Home) -> None:
    """bob uploads while the NAS sleeps, the NAS's copy changes meanwhile, policy ``ask``."""
    async with home.pi() as client:
        answer = await client.put(
            "/api/sync/policies",
            headers=home.token("admin"),
            json={"folder": "bob", "policy": "ask"},
        )
        assert answer.status_code == 200
        answer = await client.post(
            "/api/files/upload",
            headers=home.token("bob"),
            data={"path": SECRET},
            files={"file": ("secret.txt", b"bob's phone version")},
        )
        assert answer.status_code == 200
    on_nas = home.nas.config.storage / SECRET
    on_nas.parent.mkdir(parents=True, exist_ok=True)
    on_nas.write_bytes(b"bob's NAS version")
    await home.wake()
    await home.settled()


async def _conflicts(client: httpx.AsyncClient, home: Home, who: str) -> list[dict[str, object]]:
    answer = await client.get("/api/sync/conflicts", headers=home.token(who))
    assert answer.status_code == 200
    conflicts: list[dict[str, object]] = answer.json()["conflicts"]
    return conflicts


async def test_a_conflict_is_seen_and_decided_only_by_its_owner_and_admins(home: Home) -> None:
    await _bobs_open_conflict(home)
    async with home.pi() as client:
        [conflict] = await _conflicts(client, home, "bob")
        assert conflict["path"] == SECRET
        assert await _conflicts(client, home, "alice") == []
        assert [c["id"] for c in await _conflicts(client, home, "admin")] == [conflict["id"]]

        refused = await client.post(
            f"/api/sync/conflicts/{conflict['id']}/resolve",
            headers=home.token("alice"),
            json={"resolution": "keep_server"},
        )
        unknown = await client.post(
            "/api/sync/conflicts/999999/resolve",
            headers=home.token("alice"),
            json={"resolution": "keep_server"},
        )
        assert (refused.status_code, refused.json()) == (unknown.status_code, unknown.json())
        assert refused.status_code == 404
        [entry] = await home.queue()
        assert entry.status is QueueStatus.CONFLICT  # bob's upload is untouched
        assert entry.local_path is not None

        decided = await client.post(
            f"/api/sync/conflicts/{conflict['id']}/resolve",
            headers=home.token("admin"),
            json={"resolution": "keep_local"},
        )
        assert decided.status_code == 200
    await home.settled()
    assert (home.nas.config.storage / SECRET).read_bytes() == b"bob's phone version"


async def test_bob_resolves_his_own_conflict(home: Home) -> None:
    await _bobs_open_conflict(home)
    async with home.pi() as client:
        [conflict] = await _conflicts(client, home, "bob")
        answer = await client.post(
            f"/api/sync/conflicts/{conflict['id']}/resolve",
            headers=home.token("bob"),
            json={"resolution": "keep_server"},
        )
        assert answer.status_code == 200
    [entry] = await home.queue()
    assert entry.status is QueueStatus.CANCELLED


async def _sleep(home: Home) -> None:
    await home.nas.sleep()
    await home.services.nas_link.report_power(3.0)  # the NAS plug says: standby
    await eventually(lambda: home.services.nas_link.state is NasState.SLEEPING)


async def test_a_phone_s_folder_configs_are_its_owner_s_while_the_nas_sleeps(home: Home) -> None:
    bob, alice, admin = home.token("bob"), home.token("alice"), home.token("admin")
    await home.wake()
    async with home.direct() as nas:
        created = await nas.post(
            "/api/mobile/sync/folders/bobphone",
            headers=bob,
            json={"local_path": "/DCIM/Camera", "remote_path": "bob/Camera"},
        )
    folder_id = created.json()["id"]
    async with home.pi() as client:
        mine = (await client.get("/api/mobile/sync/folders/bobphone", headers=bob)).json()
        # awake too: the NAS would show alice bob's device; the Pi knows it is bob's
        peeked_awake = await client.get("/api/mobile/sync/folders/bobphone", headers=alice)
        changed_awake = await client.put(
            f"/api/mobile/sync/folders/{folder_id}", headers=alice, json={"remote_path": "x"}
        )
        admin_awake = await client.get("/api/mobile/sync/folders/bobphone", headers=admin)
    assert [f["id"] for f in mine] == [folder_id]
    assert (peeked_awake.status_code, changed_awake.status_code) == (404, 404)
    assert [f["id"] for f in admin_awake.json()] == [folder_id]

    await _sleep(home)
    async with home.pi() as client:
        peeked = await client.get("/api/mobile/sync/folders/bobphone", headers=alice)
        unknown = await client.get("/api/mobile/sync/folders/nosuchphone", headers=alice)
        changed = await client.put(
            f"/api/mobile/sync/folders/{folder_id}",
            headers=alice,
            json={"remote_path": "alice/stolen", "status": "idle"},
        )
        still = await client.get("/api/mobile/sync/folders/bobphone", headers=bob)
        seen_by_admin = await client.get("/api/mobile/sync/folders/bobphone", headers=admin)
        moved = await client.put(  # the NAS's own fields are not bob's to change either
            f"/api/mobile/sync/folders/{folder_id}",
            headers=bob,
            json={"status": "idle", "device_id": "alicephone", "id": "other"},
        )
    assert (peeked.status_code, peeked.json()) == (unknown.status_code, unknown.json())
    assert peeked.json() == {"detail": "Device not found"}
    assert changed.status_code == 404
    assert set(changed.json()) == {"detail"}
    assert still.json() == mine  # bob's phone is served his own config
    assert seen_by_admin.json() == mine
    assert moved.status_code == 200
    assert (moved.json()["id"], moved.json()["device_id"]) == (folder_id, "bobphone")
    assert [u["user_id"] for u in await home.services.uploads.mobile_folders.pending()] == ["3"]
