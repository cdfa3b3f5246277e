"""Conflicts against the NAS emulator: the same file changed on both sides, once per policy."""

from __future__ import annotations

import hashlib

import pytest

from balupi.db.models import QueueStatus
from balupi.services.uploads.conflicts import ConflictPolicy, conflict_copy_name
from tests.uploads.conftest import Home

PATH = "alice/doc.txt"
PI_VERSION = b"edited on the phone while the NAS slept"
NAS_VERSION = b"edited on the NAS meanwhile"


async def _both_sides_changed(home: Home, policy: ConflictPolicy | None) -> None:
    """The Pi takes an upload while the NAS sleeps; then the NAS's copy changes too."""
    async with home.pi() as client:
        if policy is not None:
            answer = await client.put(
                "/api/sync/policies",
                headers=home.token("admin"),
                json={"folder": "alice", "policy": policy.value},
            )
            assert answer.status_code == 200
        response = await client.post(
            "/api/files/upload",
            headers=home.token("alice"),
            data={"path": PATH},
            files={"file": ("doc.txt", PI_VERSION)},
        )
        assert response.status_code == 200
    nas_file = home.nas.config.storage / PATH
    nas_file.parent.mkdir(parents=True, exist_ok=True)
    nas_file.write_bytes(NAS_VERSION)  # changed on the NAS after the Pi accepted its version
    await home.wake()
    await home.settled()


def _nas_files(home: Home) -> dict[str, bytes]:
    folder = home.nas.config.storage / "alice"
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


async def _conflicts(home: Home) -> list[dict[str, object]]:
    async with home.pi() as client:
        answer = await client.get("/api/sync/conflicts", headers=home.token("alice"))
    conflicts: list[dict[str, object]] = answer.json()["conflicts"]
    return conflicts


async def test_by_default_the_server_wins_and_the_phone_copy_lands_beside_it(home: Home) -> None:
    await _both_sides_changed(home, None)

    files = _nas_files(home)
    assert files.pop("doc.txt") == NAS_VERSION
    [(copy_name, copy)] = files.items()
    assert copy_name.startswith("doc (conflict ")
    assert copy_name.endswith(").txt")
    assert copy == PI_VERSION
    [conflict] = await _conflicts(home)
    assert conflict["resolution"] == "server_wins"
    assert conflict["conflict_copy_path"] == f"alice/{copy_name}"


async def test_overwrite_policy_puts_the_phone_version_in_place(home: Home) -> None:
    await _both_sides_changed(home, ConflictPolicy.OVERWRITE)
    assert _nas_files(home) == {"doc.txt": PI_VERSION}


async def test_skip_policy_keeps_the_nas_version_and_withdraws_the_upload(home: Home) -> None:
    await _both_sides_changed(home, ConflictPolicy.SKIP)
    assert _nas_files(home) == {"doc.txt": NAS_VERSION}
    [row] = await home.queue()
    assert row.status is QueueStatus.CANCELLED


@pytest.mark.parametrize(
    ("resolution", "expected"),
    [
        ("keep_local", {"doc.txt": PI_VERSION}),
        ("keep_server", {"doc.txt": NAS_VERSION}),
    ],
)
async def test_ask_policy_waits_for_a_person(
    home: Home, resolution: str, expected: dict[str, bytes]
) -> None:
    await _both_sides_changed(home, ConflictPolicy.ASK)
    [conflict] = await _conflicts(home)
    assert conflict["status"] == "open"
    async with home.pi() as client:
        status = (await client.get("/api/files/sync/status", headers=home.token("alice"))).json()
        assert status["open_conflicts"] == 1
        assert status["safe_to_power_off"] is False
        answer = await client.post(
            f"/api/sync/conflicts/{conflict['id']}/resolve",
            headers=home.token("alice"),
            json={"resolution": resolution},
        )
        assert answer.status_code == 200
    await home.settled()
    assert _nas_files(home) == expected


async def test_identical_content_is_not_a_conflict(home: Home) -> None:
    async with home.pi() as client:
        await client.post(
            "/api/files/upload",
            headers=home.token("alice"),
            data={"path": PATH},
            files={"file": ("doc.txt", PI_VERSION)},
        )
    nas_file = home.nas.config.storage / PATH
    nas_file.parent.mkdir(parents=True, exist_ok=True)
    nas_file.write_bytes(PI_VERSION)
    await home.wake()
    await home.settled()
    assert await _conflicts(home) == []
    assert hashlib.sha256(_nas_files(home)["doc.txt"]).hexdigest() == (
        hashlib.sha256(PI_VERSION).hexdigest()
    )


def test_conflict_copy_names() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 11, 26, 22, 15, 0, tzinfo=UTC)
    assert conflict_copy_name("a/photo.jpg", moment) == "a/photo (conflict 2026-11-26 221500).jpg"
    assert conflict_copy_name("Makefile", moment) == "Makefile (conflict 2026-11-26 221500)"
    assert conflict_copy_name("a/.bashrc", moment) == "a/.bashrc (conflict 2026-11-26 221500)"
