"""The queue meets changes the NAS will never take, and pushes that break in odd ways.

Issue 11 findings 3, 4 and 10: a change that fails for good is parked where everyone can see
it and holds nothing back; a push never leaves its row ``uploading``; the sync status lists a
user's own entries only (admins see all), its counts stay those of the whole queue.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from balupi.db.models import QueueOperation, QueueStatus, UploadQueueEntry
from balupi.errors import NasUnreachable
from balupi.services.nas.client import NasClient
from balupi.services.uploads import nas_push
from balupi.services.uploads.queue import NewUpload, UploadQueue
from tests.uploads.conftest import Home, eventually


async def _status(home: Home, username: str) -> dict[str, Any]:
    async with home.pi() as pi:
        answer = await pi.get("/api/files/sync/status", headers=home.token(username))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_change_the_nas_never_takes_is_parked_and_blocks_nothing(home: Home) -> None:
    """Finding 3: alice's mkdir over an existing file, then the admin's upload to that path."""
    (home.nas.config.storage / "Shared" / "report.txt").write_bytes(b"the old report")
    async with home.pi() as pi:
        made = await pi.post(
            "/api/files/mkdir", headers=home.token("alice"), json={"path": "Shared/report.txt"}
        )
        uploaded = await pi.post(
            "/api/files/upload",
            headers=home.token("admin"),
            data={"path": "Shared"},
            files={"file": ("report.txt", b"the new report")},
        )
        # bob renames a file he does not own: the NAS answers 403, for good.
        (home.nas.config.storage / "Shared" / "minutes.txt").write_bytes(b"minutes")
        renamed = await pi.put(
            "/api/files/rename",
            headers=home.token("bob"),
            json={"old_path": "Shared/minutes.txt", "new_name": "notes.txt"},
        )
        later = await pi.post(
            "/api/files/upload",
            headers=home.token("bob"),
            data={"path": "Shared"},
            files={"file": ("notes.txt", b"bob's notes")},
        )
    assert [made.status_code, uploaded.status_code, renamed.status_code] == [200, 200, 200]
    assert later.status_code == 200

    await home.wake()

    async def settled() -> bool:
        return bool((await _status(home, "admin"))["safe_to_power_off"])

    await eventually(settled, timeout=10)
    storage = home.nas.config.storage / "Shared"
    assert (storage / "report.txt").read_bytes() == b"the new report"
    assert (storage / "notes.txt").read_bytes() == b"bob's notes"
    assert (storage / "minutes.txt").read_bytes() == b"minutes"

    status = await _status(home, "admin")
    parked = {(f["operation"], f["path"]): f for f in status["failures"]}
    assert set(parked) == {("mkdir", "Shared/report.txt"), ("rename", "Shared/notes.txt")}
    assert all(f["status"] == "rejected" for f in parked.values())
    assert "403" in parked[("rename", "Shared/notes.txt")]["last_error"]
    assert status["by_status"]["rejected"] == 2
    assert status["parked_count"] == 2
    assert status["pending_count"] == 0
    rows = await home.queue()
    assert {r.operation: r.attempts for r in rows if r.status is QueueStatus.REJECTED} == {
        QueueOperation.MKDIR: 1,
        QueueOperation.RENAME: 1,
    }


def test_only_a_refusal_of_the_change_itself_is_for_good() -> None:
    from balupi.services.uploads.worker import fails_for_good

    assert all(fails_for_good(code) for code in (400, 403, 404, 409, 410, 422))
    assert not any(fails_for_good(code) for code in (401, 408, 429, 500, 502, 503, 507))


async def test_the_client_raises_only_nas_errors_while_a_body_streams() -> None:
    """Finding 4, at its cause: a body that breaks is ``NasUnreachable``, not an httpx error."""

    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield b"partial"
            raise httpx.ReadError("connection reset")

    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=Broken()))
    async with NasClient("http://127.0.0.1:9", transport=transport) as client:
        with pytest.raises(NasUnreachable):
            async with client.stream("GET", "/api/files/download/x") as response:
                await response.aread()


async def test_a_push_that_ends_in_any_error_leaves_no_row_uploading(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 4: whatever a push raises, the row ends failed (and is retried), not uploading."""

    async def breaks(*args: object) -> None:
        raise ValueError("something nobody expected")

    monkeypatch.setattr(nas_push, "push_file", breaks)
    async with home.pi() as pi:
        answer = await pi.post(
            "/api/files/upload",
            headers=home.token("alice"),
            data={"path": "alice"},
            files={"file": ("a.txt", b"alice's file")},
        )
    assert answer.status_code == 200
    await home.wake()

    async def failed() -> bool:
        [row] = await home.queue()
        return row.status is QueueStatus.FAILED

    await eventually(failed, timeout=10)
    [row] = await home.queue()
    assert row.attempts == 1
    assert row.next_attempt_at is not None
    assert row.last_error is not None
    assert "nobody expected" not in row.last_error  # no exception's text reaches a user


async def test_sync_status_lists_a_users_own_entries_and_counts_everyones(home: Home) -> None:
    """Finding 10: alice sees her failing paths, not bob's; the admin sees both."""
    queue = UploadQueue(home.services.sessions)
    for user_id, name in (("2", "alice"), ("3", "bob")):
        local = home.services.settings.uploads_dir / f"{name}.bin"
        local.write_bytes(b"x")
        upload = NewUpload(f"{name}/secret.txt", local, 1, "0" * 64, None)
        await queue.acknowledge(user_id, name, [upload])
    async with home.services.sessions.begin() as session:
        await session.execute(
            update(UploadQueueEntry).values(status=QueueStatus.FAILED, last_error="NAS said no")
        )

    alice, bob, admin = [await _status(home, name) for name in ("alice", "bob", "admin")]
    assert [f["path"] for f in alice["failures"]] == ["alice/secret.txt"]
    assert [f["path"] for f in bob["failures"]] == ["bob/secret.txt"]
    assert sorted(f["path"] for f in admin["failures"]) == ["alice/secret.txt", "bob/secret.txt"]
    for status in (alice, bob, admin):
        assert status["by_status"]["failed"] == 2
        assert status["pending_count"] == 2
        assert status["failure_count"] == 2
        assert status["safe_to_power_off"] is False


async def test_a_parked_upload_is_retried_or_discarded_by_its_owner_or_an_admin(
    home: Home,
) -> None:
    """A parked upload keeps its bytes until someone decides; nobody else may decide."""
    queue = UploadQueue(home.services.sessions)
    uploads = []
    for name in ("report", "minutes"):
        local = home.services.settings.uploads_dir / f"{name}.bin"
        local.write_bytes(b"bob's bytes")
        uploads.append(NewUpload(f"bob/{name}.txt", local, 11, "0" * 64, None))
    (first, second), _ = await queue.acknowledge("3", "bob", uploads)
    async with home.services.sessions.begin() as session:
        await session.execute(
            update(UploadQueueEntry).values(status=QueueStatus.REJECTED, last_error="NAS: 403")
        )
    assert all(upload.local_path.exists() for upload in uploads)
    assert (await _status(home, "admin"))["safe_to_power_off"] is False

    async with home.pi() as pi:
        by_alice = await pi.post(
            f"/api/files/sync/parked/{first}/discard", headers=home.token("alice")
        )
        retried = await pi.post(f"/api/files/sync/parked/{first}/retry", headers=home.token("bob"))
        again = await pi.post(f"/api/files/sync/parked/{first}/retry", headers=home.token("bob"))
        discarded = await pi.post(
            f"/api/files/sync/parked/{second}/discard", headers=home.token("admin")
        )
        huge = await pi.post(
            "/api/files/sync/parked/14117753863996377088/retry", headers=home.token("admin")
        )
    assert (by_alice.status_code, by_alice.json()) == (
        404,
        {"detail": "No refused change with that id", "code": "not_found"},
    )
    assert retried.status_code == 200
    assert again.status_code == 404  # no longer parked
    assert discarded.status_code == 200
    assert huge.status_code == 422
    statuses = {row.id: row.status for row in await home.queue()}
    assert statuses == {first: QueueStatus.PENDING, second: QueueStatus.CANCELLED}
    assert [upload.local_path.exists() for upload in uploads] == [True, False]


def test_held_paths_answer_as_comparing_with_each_would() -> None:
    """The worker's fast lookup of held paths agrees with the pairwise rule it replaces."""
    from balupi.services.uploads.worker import _HeldPaths, _overlap

    held_paths = ["a/b", "c", "d/e/f", "g/h.txt"]
    held = _HeldPaths()
    for path in held_paths:
        held.add(path)
    for path in ["a", "a/b", "a/b/c", "a/bc", "c/x", "cx", "d", "d/e", "d/e/g", "g/h", "x", "g"]:
        assert held.touches(path) == any(_overlap(path, h) for h in held_paths), path
