"""``POST /api/files/upload``: durable before 200, every client's field names, 507 and 429."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from balupi.config import Settings
from balupi.db.models import QueueStatus, UploadQueueEntry
from balupi.services.container import Services
from balupi.services.uploads.ingest import IngestLimits
from tests.uploads.conftest import ADMIN, ALICE, BOB


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


async def queue_rows(app: FastAPI) -> list[UploadQueueEntry]:
    async with services_of(app).sessions() as session:
        return list(
            (await session.scalars(select(UploadQueueEntry).order_by(UploadQueueEntry.id))).all()
        )


def uploads_dir_files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.uploads_dir.iterdir() if p.is_file())


async def test_baluapp_folder_sync_upload_is_durable_before_the_answer(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    photo = b"\xff\xd8 a photo " * 1000
    response = await client.post(
        "/api/files/upload",
        headers={**ALICE, "X-Sync-Trigger": "auto", "X-Device-ID": "phone-1"},
        data={"path": "alice/Camera/IMG_0001.jpg"},  # the full file path: the dot heuristic
        files={"file": ("IMG_0001.jpg", photo, "image/jpeg")},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Files uploaded"
    assert body["uploaded"] == 1
    assert len(body["upload_ids"]) == 1
    [row] = await queue_rows(app)
    assert row.target_path == "alice/Camera/IMG_0001.jpg"
    assert row.status is QueueStatus.PENDING
    assert row.owner_id == "2"
    assert row.sha256 == hashlib.sha256(photo).hexdigest()
    assert row.size == len(photo)
    assert row.mime_type == "image/jpeg"
    assert Path(row.local_path or "").read_bytes() == photo


async def test_baluapp_manual_upload_with_repeated_files_into_a_folder(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.post(
        "/api/files/upload",
        headers=ALICE,
        data={"path": "Shared/Docs"},
        files=[("files", ("a.txt", b"A")), ("files", ("b.txt", b"B"))],
    )
    assert response.status_code == 200
    assert response.json()["uploaded"] == 2
    assert [r.target_path for r in await queue_rows(app)] == [
        "Shared/Docs/a.txt",
        "Shared/Docs/b.txt",
    ]


async def test_baludesk_batch_of_fifty_files(client: httpx.AsyncClient, app: FastAPI) -> None:
    files = [("files", (f"f{i:02}.bin", bytes([i]) * 1000)) for i in range(50)]
    response = await client.post(
        "/api/files/upload", headers=BOB, data={"path": "bob/backup"}, files=files
    )
    assert response.status_code == 200
    assert response.json()["uploaded"] == 50
    assert len(await queue_rows(app)) == 50


async def test_baludesk_explorer_puts_the_full_path_in_the_query(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.post(
        "/api/files/upload",
        headers=BOB,
        params={"path": "bob/notes/todo.md"},
        files={"file": ("todo.md", b"- nothing")},
    )
    assert response.status_code == 200
    assert [r.target_path for r in await queue_rows(app)] == ["bob/notes/todo.md"]


async def test_windows_separators_in_filenames_are_cut(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.post(
        "/api/files/upload",
        headers=BOB,
        data={"path": "bob"},
        files={"file": ("C:\\Users\\bob\\doc.txt", b"x")},
    )
    assert response.status_code == 200
    assert [r.target_path for r in await queue_rows(app)] == ["bob/doc.txt"]


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("bob/stolen.txt", 403, "Access denied"),
        ("", 403, "Access denied"),
        ("alice/../bob", 400, "Invalid path"),
    ],
)
async def test_refused_targets_store_nothing(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, path: str, status: int, detail: str
) -> None:
    response = await client.post(
        "/api/files/upload", headers=ALICE, data={"path": path}, files={"file": ("x.txt", b"x")}
    )
    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert await queue_rows(app) == []
    assert uploads_dir_files(settings) == []


async def test_an_admin_may_upload_anywhere(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.post(
        "/api/files/upload", headers=ADMIN, data={"path": "bob"}, files={"file": ("x.txt", b"x")}
    )
    assert response.status_code == 200


async def test_no_token_is_401_and_nothing_is_stored(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        "/api/files/upload", data={"path": "Shared"}, files={"file": ("x.txt", b"x")}
    )
    assert response.status_code == 401
    assert uploads_dir_files(settings) == []


async def test_a_second_upload_to_the_same_path_supersedes_the_first(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    for content in (b"first", b"second"):
        response = await client.post(
            "/api/files/upload",
            headers=ALICE,
            data={"path": "alice/a.txt"},
            files={"file": ("a.txt", content)},
        )
        assert response.status_code == 200
    first, second = await queue_rows(app)
    assert first.status is QueueStatus.CANCELLED
    assert second.status is QueueStatus.PENDING
    assert [p.read_bytes() for p in uploads_dir_files(settings)] == [b"second"]


async def test_a_disk_that_cannot_take_the_file_is_507_and_keeps_what_was_stored(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    await client.post(
        "/api/files/upload",
        headers=ALICE,
        data={"path": "alice"},
        files={"file": ("keep.txt", b"k")},
    )
    services_of(app).uploads.ingest.limits = IngestLimits(reserve_bytes=2**62)

    response = await client.post(
        "/api/files/upload",
        headers=ALICE,
        data={"path": "alice"},
        files={"file": ("big.bin", b"b")},
    )

    assert response.status_code == 507
    assert "detail" in response.json()
    assert [r.target_path for r in await queue_rows(app)] == ["alice/keep.txt"]
    assert [p.read_bytes() for p in uploads_dir_files(settings)] == [b"k"]


async def test_a_saturated_queue_is_429_with_retry_after_in_the_body(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    services_of(app).uploads.ingest.limits = IngestLimits(max_open_entries=1)
    first = await client.post(
        "/api/files/upload", headers=ALICE, data={"path": "alice"}, files={"file": ("1.txt", b"1")}
    )
    second = await client.post(
        "/api/files/upload", headers=ALICE, data={"path": "alice"}, files={"file": ("2.txt", b"2")}
    )
    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json()["retry_after"] == 60  # BaluDesk reads it from the JSON body
    assert second.headers["Retry-After"] == "60"


async def test_a_body_that_ends_mid_file_stores_nothing(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\nalice\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + b"partial bytes and then the connection is gone"

    async def stream() -> AsyncIterator[bytes]:
        yield body

    response = await client.post(
        "/api/files/upload",
        headers={**ALICE, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=stream(),
    )
    assert response.status_code == 422
    assert await queue_rows(app) == []
    assert uploads_dir_files(settings) == []


async def test_not_a_multipart_body_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/files/upload", headers=ALICE, json={"path": "alice"})
    assert response.status_code == 422
    assert response.json() == {"detail": "Expected a multipart/form-data body"}
