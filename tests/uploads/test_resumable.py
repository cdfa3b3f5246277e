"""Resumable uploads: BaluHost's chunked trio (persistent) and tus 1.0 with its extensions."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from balupi.app import create_app
from balupi.config import Settings
from balupi.db.models import UploadQueueEntry
from balupi.services.container import Services
from tests.uploads.conftest import ALICE, BOB

TUS = {"Tus-Resumable": "1.0.0"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def queue_rows(app: FastAPI) -> list[UploadQueueEntry]:
    services: Services = app.state.services
    async with services.sessions() as session:
        return list((await session.scalars(select(UploadQueueEntry))).all())


async def test_chunked_trio_in_order_lands_in_the_queue(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    parts = [b"a" * 1000, b"b" * 1000, b"c" * 500]
    init = await client.post(
        "/api/files/upload/chunked/init",
        headers=ALICE,
        json={"filename": "video.mp4", "total_size": 2500, "target_path": "alice/Videos"},
    )
    assert init.status_code == 200
    assert init.json()["chunk_size"] == 33554432
    upload_id = init.json()["upload_id"]

    received = []
    for index, part in enumerate(parts):
        answer = await client.post(
            f"/api/files/upload/chunked/{upload_id}/chunk",
            params={"chunk_index": index},
            headers={**ALICE, "Content-Type": "application/octet-stream"},
            content=part,
        )
        assert answer.status_code == 200
        received.append(answer.json()["received_bytes"])
    done = await client.post(f"/api/files/upload/chunked/{upload_id}/complete", headers=ALICE)

    assert received == [1000, 2000, 2500]
    assert done.json() == {"path": "alice/Videos/video.mp4", "size": 2500}
    [row] = await queue_rows(app)
    assert row.sha256 == hashlib.sha256(b"".join(parts)).hexdigest()
    again = await client.post(f"/api/files/upload/chunked/{upload_id}/complete", headers=ALICE)
    assert again.status_code == 404
    assert again.json() == {"detail": "Upload session not found"}


async def _init(client: httpx.AsyncClient, total: int, who: dict[str, str] = ALICE) -> str:
    init = await client.post(
        "/api/files/upload/chunked/init",
        headers=who,
        json={"filename": "f.bin", "total_size": total, "target_path": "Shared"},
    )
    upload_id: str = init.json()["upload_id"]
    return upload_id


async def _chunk(
    client: httpx.AsyncClient, upload_id: str, index: int, data: bytes, who: dict[str, str] = ALICE
) -> httpx.Response:
    return await client.post(
        f"/api/files/upload/chunked/{upload_id}/chunk",
        params={"chunk_index": index},
        headers=who,
        content=data,
    )


async def test_chunks_out_of_order_get_baluhosts_answer(client: httpx.AsyncClient) -> None:
    upload_id = await _init(client, 100)
    await _chunk(client, upload_id, 0, b"x" * 10)
    answer = await _chunk(client, upload_id, 5, b"x" * 10)
    assert answer.status_code == 400
    assert answer.json() == {"detail": "Expected chunk 1, got 5"}


async def test_too_many_bytes_abort_the_session(client: httpx.AsyncClient) -> None:
    upload_id = await _init(client, 10)
    assert (await _chunk(client, upload_id, 0, b"x" * 11)).status_code == 400
    assert (await _chunk(client, upload_id, 0, b"x")).status_code == 404


async def test_another_users_session_is_403(client: httpx.AsyncClient) -> None:
    upload_id = await _init(client, 10)
    assert (await _chunk(client, upload_id, 0, b"x", who=BOB)).status_code == 403


async def test_a_short_upload_is_not_completed(client: httpx.AsyncClient, app: FastAPI) -> None:
    upload_id = await _init(client, 10)
    await _chunk(client, upload_id, 0, b"x" * 4)
    done = await client.post(f"/api/files/upload/chunked/{upload_id}/complete", headers=ALICE)
    assert done.status_code == 400
    assert "4 of 10" in done.json()["detail"]
    assert await queue_rows(app) == []


async def test_a_session_survives_a_restart_and_reports_its_offset(settings: Settings) -> None:
    first = create_app(settings)
    async with (
        first.router.lifespan_context(first),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://t") as c,
    ):
        upload_id = await _init(c, 6)
        await _chunk(c, upload_id, 0, b"abc")

    second = create_app(settings)
    async with (
        second.router.lifespan_context(second),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://t") as c,
    ):
        status = await c.get(f"/api/files/upload/chunked/{upload_id}", headers=ALICE)
        assert status.json()["received_bytes"] == 3
        assert status.json()["next_chunk_index"] == 1
        await _chunk(c, upload_id, 1, b"def")
        done = await c.post(f"/api/files/upload/chunked/{upload_id}/complete", headers=ALICE)
        assert done.status_code == 200
        [row] = await queue_rows(second)
    assert row.sha256 == hashlib.sha256(b"abcdef").hexdigest()


async def test_tus_options_lists_the_extensions(client: httpx.AsyncClient) -> None:
    answer = await client.options("/api/files/tus")
    assert answer.status_code == 204
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert set(answer.headers["Tus-Extension"].split(",")) == {
        "creation",
        "creation-with-upload",
        "checksum",
        "expiration",
        "termination",
    }


async def _tus_create(client: httpx.AsyncClient, length: int, **extra: str) -> httpx.Response:
    return await client.post(
        "/api/files/tus",
        headers={
            **ALICE,
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": f"filename {b64('clip.mov')},path {b64('alice/Movies')}",
            **extra,
        },
    )


async def test_tus_upload_resumes_at_the_servers_offset(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = await _tus_create(client, 10)
    assert created.status_code == 201
    assert "Upload-Expires" in created.headers
    location = created.headers["Location"]
    patch_headers = {**ALICE, **TUS, "Content-Type": "application/offset+octet-stream"}

    first = await client.patch(
        location, headers={**patch_headers, "Upload-Offset": "0"}, content=b"01234"
    )
    assert (first.status_code, first.headers["Upload-Offset"]) == (204, "5")
    stale = await client.patch(
        location, headers={**patch_headers, "Upload-Offset": "0"}, content=b"0"
    )
    assert stale.status_code == 409
    head = await client.head(location, headers={**ALICE, **TUS})
    assert head.headers["Upload-Offset"] == "5"
    assert head.headers["Upload-Length"] == "10"

    last = await client.patch(
        location, headers={**patch_headers, "Upload-Offset": "5"}, content=b"56789"
    )
    assert last.status_code == 204
    [row] = await queue_rows(app)
    assert row.target_path == "alice/Movies/clip.mov"
    assert row.sha256 == hashlib.sha256(b"0123456789").hexdigest()


async def test_tus_checksum_mismatch_is_460_and_the_offset_stays(client: httpx.AsyncClient) -> None:
    location = (await _tus_create(client, 4)).headers["Location"]
    wrong = base64.b64encode(hashlib.sha256(b"nope").digest()).decode()
    answer = await client.patch(
        location,
        headers={
            **ALICE,
            **TUS,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "0",
            "Upload-Checksum": f"sha256 {wrong}",
        },
        content=b"abcd",
    )
    assert answer.status_code == 460
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    head = await client.head(location, headers={**ALICE, **TUS})
    assert head.headers["Upload-Offset"] == "0"

    right = base64.b64encode(hashlib.sha1(b"abcd").digest()).decode()
    ok = await client.patch(
        location,
        headers={
            **ALICE,
            **TUS,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "0",
            "Upload-Checksum": f"sha1 {right}",
        },
        content=b"abcd",
    )
    assert ok.status_code == 204


async def test_tus_creation_with_a_body_stores_it(client: httpx.AsyncClient, app: FastAPI) -> None:
    answer = await client.post(
        "/api/files/tus",
        headers={
            **ALICE,
            **TUS,
            "Upload-Length": "3",
            "Content-Type": "application/offset+octet-stream",
            "Upload-Metadata": f"filename {b64('a.txt')},path {b64('alice')}",
        },
        content=b"abc",
    )
    assert answer.status_code == 201
    assert answer.headers["Upload-Offset"] == "3"
    assert [r.target_path for r in await queue_rows(app)] == ["alice/a.txt"]


async def test_tus_termination(client: httpx.AsyncClient) -> None:
    location = (await _tus_create(client, 4)).headers["Location"]
    assert (await client.delete(location, headers={**ALICE, **TUS})).status_code == 204
    assert (await client.head(location, headers={**ALICE, **TUS})).status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Tus-Resumable": "0.2.2"}])
async def test_tus_needs_its_version_header(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await client.post("/api/files/tus", headers={**ALICE, **headers, "Upload-Length": "1"})
    assert answer.status_code == 412
