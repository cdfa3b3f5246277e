"""Fidelity of the emulated NAS's chunked upload to BaluHost (docs/compat/nas-api.md §3.5)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from balupi.sim.nas.state import EmulatedNas

BASE = "/api/files/upload/chunked"
INTERNAL_ERROR = {"detail": "Internal server error"}
NO_SESSION = {"detail": "Upload session not found"}


async def init(
    client: httpx.AsyncClient, filename: str, total_size: int, target_path: str
) -> httpx.Response:
    body = {"filename": filename, "total_size": total_size, "target_path": target_path}
    return await client.post(f"{BASE}/init", json=body)


async def start(client: httpx.AsyncClient, filename: str, total_size: int, target: str) -> str:
    response = await init(client, filename, total_size, target)
    assert response.status_code == 200, response.text
    upload_id: str = response.json()["upload_id"]
    return upload_id


async def send(
    client: httpx.AsyncClient, upload_id: str, index: int, data: bytes
) -> httpx.Response:
    return await client.post(
        f"{BASE}/{upload_id}/chunk",
        params={"chunk_index": index},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )


async def complete(client: httpx.AsyncClient, upload_id: str) -> httpx.Response:
    return await client.post(f"{BASE}/{upload_id}/complete")


async def item(client: httpx.AsyncClient, directory: str, name: str) -> dict[str, Any]:
    files = (await client.get("/api/files/list", params={"path": directory})).json()["files"]
    found: dict[str, Any] = next(f for f in files if f["name"] == name)
    return found


async def test_init_chunks_complete_store_the_file_with_owner_and_sha256(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    parts = [b"a" * 1000, b"b" * 1500, b"c" * 7]
    total = sum(map(len, parts))

    init_response = await init(alice, "movie.mkv", total, "alice")
    upload_id = init_response.json()["upload_id"]
    received = [(await send(alice, upload_id, i, part)).json() for i, part in enumerate(parts)]
    done = await complete(alice, upload_id)

    assert init_response.json() == {"upload_id": upload_id, "chunk_size": 33554432}
    assert uuid.UUID(upload_id).version == 4
    assert received == [
        {"received_bytes": 1000},
        {"received_bytes": 2500},
        {"received_bytes": 2507},
    ]
    assert (done.status_code, done.json()) == (200, {"path": "alice/movie.mkv", "size": 2507})
    assert (nas_state.storage / "alice" / "movie.mkv").read_bytes() == b"".join(parts)
    listed = await item(alice, "alice", "movie.mkv")
    owner = nas_state.user_by_name("alice")
    assert owner is not None
    assert (listed["checksum"], listed["owner_id"]) == (
        hashlib.sha256(b"".join(parts)).hexdigest(),
        str(owner.id),
    )


async def test_bytes_wait_under_the_tmp_uploads_dir_until_complete(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    upload_id = await start(admin, "a.bin", 4, "Shared")
    await send(admin, upload_id, 0, b"abcd")
    temp = nas_state.storage / ".tmp" / "uploads" / upload_id

    assert temp.read_bytes() == b"abcd"
    await complete(admin, upload_id)
    assert not temp.exists()


async def test_init_beyond_free_space_is_507_with_a_scrubbed_body(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    nas_state.quota_bytes = 1000

    response = await init(admin, "big.iso", 1001, "Shared")

    assert (response.status_code, response.json()) == (507, INTERNAL_ERROR)


@pytest.mark.parametrize("filename", ["", ".", "..", "dir/.."])
async def test_init_with_an_unusable_filename_is_400(
    admin: httpx.AsyncClient, filename: str
) -> None:
    response = await init(admin, filename, 10, "Shared")

    assert (response.status_code, response.json()) == (400, {"detail": "Invalid filename"})


async def test_init_keeps_only_the_last_filename_component(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    upload_id = await start(alice, "../bob/evil.txt", 1, "alice")
    await send(alice, upload_id, 0, b"x")

    assert (await complete(alice, upload_id)).json() == {"path": "alice/evil.txt", "size": 1}


@pytest.mark.parametrize(
    ("target", "status", "detail"),
    [
        ("", 403, "Access denied"),
        ("bob", 403, "Access denied"),
        ("Shared/../bob", 400, "Invalid path"),
    ],
)
async def test_init_outside_the_jail_is_refused(
    alice: httpx.AsyncClient, target: str, status: int, detail: str
) -> None:
    response = await init(alice, "a.txt", 1, target)

    assert (response.status_code, response.json()) == (status, {"detail": detail})


async def test_chunks_must_come_strictly_in_order(admin: httpx.AsyncClient) -> None:
    upload_id = await start(admin, "a.bin", 10, "Shared")
    await send(admin, upload_id, 0, b"12345")

    skipped = await send(admin, upload_id, 5, b"x")
    repeated = await send(admin, upload_id, 0, b"x")
    next_one = await send(admin, upload_id, 1, b"67")

    assert (skipped.status_code, skipped.json()) == (400, {"detail": "Expected chunk 1, got 5"})
    assert (repeated.status_code, repeated.json()) == (400, {"detail": "Expected chunk 1, got 0"})
    assert next_one.json() == {"received_bytes": 7}


async def test_overflowing_the_declared_size_aborts_the_session(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    upload_id = await start(admin, "a.bin", 5, "Shared")
    await send(admin, upload_id, 0, b"123")

    overflow = await send(admin, upload_id, 1, b"456")
    after = await send(admin, upload_id, 2, b"")

    assert overflow.status_code == 400
    assert (after.status_code, after.json()) == (404, NO_SESSION)
    assert not (nas_state.storage / ".tmp" / "uploads" / upload_id).exists()


async def test_unknown_session_is_404(admin: httpx.AsyncClient) -> None:
    unknown = str(uuid.uuid4())

    for response in (await send(admin, unknown, 0, b"x"), await complete(admin, unknown)):
        assert (response.status_code, response.json()) == (404, NO_SESSION)


async def test_another_users_session_is_403_even_for_admins(
    alice: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    upload_id = await start(alice, "a.bin", 1, "Shared")

    for response in (await send(admin, upload_id, 0, b"x"), await complete(admin, upload_id)):
        assert (response.status_code, response.json()) == (
            403,
            {"detail": "Not your upload session"},
        )


async def test_complete_accepts_a_short_upload(admin: httpx.AsyncClient) -> None:
    upload_id = await start(admin, "a.bin", 3_000_000, "Shared")
    await send(admin, upload_id, 0, b"x" * 1_000_000)

    response = await complete(admin, upload_id)

    assert (response.status_code, response.json()) == (
        200,
        {"path": "Shared/a.bin", "size": 1_000_000},
    )


async def test_complete_overwrites_and_keeps_the_file_id(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    await alice.post(
        "/api/files/upload", data={"path": "alice"}, files={"file": ("doc.txt", b"old")}
    )
    file_id = nas_state.files["alice/doc.txt"].id
    upload_id = await start(alice, "doc.txt", 3, "alice")
    await send(alice, upload_id, 0, b"new")

    await complete(alice, upload_id)

    listed = await item(alice, "alice", "doc.txt")
    assert (listed["file_id"], listed["checksum"]) == (file_id, hashlib.sha256(b"new").hexdigest())


async def test_second_complete_is_404(admin: httpx.AsyncClient) -> None:
    upload_id = await start(admin, "a.bin", 1, "Shared")
    await send(admin, upload_id, 0, b"x")
    await complete(admin, upload_id)

    again = await complete(admin, upload_id)

    assert (again.status_code, again.json()) == (404, NO_SESSION)


async def test_complete_before_any_chunk_finds_no_temp_file(admin: httpx.AsyncClient) -> None:
    upload_id = await start(admin, "a.bin", 1, "Shared")

    response = await complete(admin, upload_id)

    assert (response.status_code, response.json()) == (
        400,
        {"detail": f"Temp file missing for session {upload_id}"},
    )


async def test_chunk_index_is_required(admin: httpx.AsyncClient) -> None:
    upload_id = await start(admin, "a.bin", 1, "Shared")

    response = await admin.post(f"{BASE}/{upload_id}/chunk", content=b"x")

    assert response.status_code == 422


async def test_abort_route_is_shadowed_by_the_generic_delete(
    alice: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    """BaluHost's DELETE /upload/chunked/{id} never runs: the catch-all delete answers first,
    treating the URL as a storage path, and the session carries on."""
    mine = await start(admin, "a.bin", 2, "Shared")
    hers = await start(alice, "b.bin", 2, "alice")

    as_admin = await admin.delete(f"{BASE}/{mine}")
    as_user = await alice.delete(f"{BASE}/{hers}")

    assert (as_admin.status_code, as_admin.json()) == (200, {"message": "Deleted"})
    assert (as_user.status_code, as_user.json()) == (403, {"detail": "Access denied"})
    assert (await send(admin, mine, 0, b"ok")).json() == {"received_bytes": 2}
    assert (await send(alice, hers, 0, b"ok")).json() == {"received_bytes": 2}


class BrokenBodyError(Exception):
    """The client's body stream failing halfway, as a dropped connection would."""


async def test_a_chunk_that_breaks_off_can_be_sent_again(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    """BaluHost buffers a chunk before writing it, so a broken chunk leaves nothing behind and
    the same index may be retried; the emulator streams to disk and cuts the bytes back."""
    upload_id = await start(admin, "a.bin", 6 + 2 * 1024 * 1024, "Shared")
    await send(admin, upload_id, 0, b"abc")

    async def breaks_off() -> AsyncIterator[bytes]:
        yield b"x" * (2 * 1024 * 1024)  # enough to be on disk already
        raise BrokenBodyError

    # Bare or wrapped in an ExceptionGroup, depending on the app's middleware.
    with pytest.raises((BrokenBodyError, ExceptionGroup)) as broken:
        await admin.post(
            f"{BASE}/{upload_id}/chunk", params={"chunk_index": 1}, content=breaks_off()
        )
    assert broken.errisinstance(BrokenBodyError) or broken.group_contains(BrokenBodyError)
    retry = await send(admin, upload_id, 1, b"def")
    done = await complete(admin, upload_id)

    assert retry.json() == {"received_bytes": 6}
    assert (nas_state.storage / "Shared" / "a.bin").read_bytes() == b"abcdef"
    listed = await item(admin, "Shared", "a.bin")
    assert listed["checksum"] == hashlib.sha256(b"abcdef").hexdigest()
    assert done.json() == {"path": "Shared/a.bin", "size": 6}
