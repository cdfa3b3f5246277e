"""Talking to the NAS for the sync worker: list a folder, send a file, replay a mutation.

Every call carries the owning user's token, so files land with the right owner. A file goes up
as BaluHost's own multipart upload, streamed from the Pi's disk (never read whole), with a
``path`` that BaluHost's dot heuristic resolves to exactly the target (docs/compat/nas-api.md §3.4).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from balupi.errors import NasRejected, NotAuthenticated
from balupi.services.files.paths import name_of, parent_of
from balupi.services.nas.client import NasClient

READ_BLOCK = 256 * 1024
CHUNK_BYTES = 8 * 1024 * 1024
UPLOAD_TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=300.0, pool=30.0)


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    checksum: str | None
    modified_at: str | None
    is_directory: bool


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _raise_for(response: httpx.Response) -> None:
    if response.status_code == 401:
        raise NotAuthenticated("NAS refused the owner's token")
    if response.status_code >= 400:
        try:
            detail: Any = response.json().get("detail")
        except ValueError:
            detail = response.text[:200]
        raise NasRejected(response.status_code, detail)


async def list_folder(client: NasClient, token: str, folder: str) -> dict[str, RemoteFile]:
    """The NAS's listing of ``folder`` by name (empty for a folder that does not exist)."""
    response = await client.request(
        "GET", "/api/files/list", headers=_bearer(token), params={"path": folder}
    )
    _raise_for(response)
    items = response.json().get("files", [])
    return {
        item["name"]: RemoteFile(
            path=item["path"],
            size=int(item.get("size") or 0),
            checksum=item.get("checksum"),
            modified_at=item.get("modified_at"),
            is_directory=item.get("type") == "directory",
        )
        for item in items
    }


async def remote_file(client: NasClient, token: str, path: str) -> RemoteFile | None:
    entry = (await list_folder(client, token, parent_of(path))).get(name_of(path))
    return entry if entry is not None and not entry.is_directory else None


def upload_form_path(target: str) -> tuple[str, str] | None:
    """``(form path, part filename)`` that BaluHost stores at exactly ``target``, or None.

    A name with a dot: send the full path (the dot heuristic takes it as the file). A name
    without one: send the folder and the name as the part's filename, unless the folder's own
    name has a dot (the heuristic would then write the file *as* that folder): None, use the
    chunked API, which takes a folder and a file name separately.
    """
    name, folder = name_of(target), parent_of(target)
    if "." in name:
        return target, name
    if "." in name_of(folder):
        return None
    return folder, name


async def _multipart_body(
    boundary: str, form_path: str, filename: str, local_path: Path
) -> AsyncIterator[bytes]:
    escaped = filename.replace('"', "%22")
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\n{form_path}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f"filename=\"{escaped}\"; filename*=utf-8''{quote(filename)}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    handle = await anyio.open_file(local_path, "rb")
    async with handle:
        while block := await handle.read(READ_BLOCK):
            yield block
    yield f"\r\n--{boundary}--\r\n".encode()


async def push_file(client: NasClient, token: str, target: str, local_path: Path) -> None:
    """Send ``local_path`` to the NAS as ``target``; raises on any refusal."""
    form = upload_form_path(target)
    if form is None:
        await _push_chunked(client, token, target, local_path)
        return
    form_path, filename = form
    boundary = uuid.uuid4().hex
    async with client.stream(
        "POST",
        "/api/files/upload",
        headers={
            **_bearer(token),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        content=_multipart_body(boundary, form_path, filename, local_path),
    ) as response:
        await response.aread()
        _raise_for(response)


async def _push_chunked(client: NasClient, token: str, target: str, local_path: Path) -> None:
    size = (await anyio.Path(local_path).stat()).st_size
    init = await client.request(
        "POST",
        "/api/files/upload/chunked/init",
        headers=_bearer(token),
        json={"filename": name_of(target), "total_size": size, "target_path": parent_of(target)},
    )
    _raise_for(init)
    session = init.json()
    # The NAS suggests 32 MiB; the Pi holds one chunk in memory at a time, so it sends less.
    chunk_size = min(int(session.get("chunk_size") or CHUNK_BYTES), CHUNK_BYTES)
    handle = await anyio.open_file(local_path, "rb")
    async with handle:
        index = 0
        while block := await handle.read(chunk_size):
            response = await client.request(
                "POST",
                f"/api/files/upload/chunked/{session['upload_id']}/chunk",
                headers={**_bearer(token), "Content-Type": "application/octet-stream"},
                params={"chunk_index": str(index)},
                content=block,
                timeout=UPLOAD_TIMEOUT,
            )
            _raise_for(response)
            index += 1
    done = await client.request(
        "POST", f"/api/files/upload/chunked/{session['upload_id']}/complete", headers=_bearer(token)
    )
    _raise_for(done)


async def replay(
    client: NasClient, token: str, method: str, path: str, body: dict[str, Any]
) -> None:
    """Replay a folder, delete, rename or move on the NAS; raises on any refusal."""
    response = await client.request(method, path, headers=_bearer(token), json=body)
    _raise_for(response)


async def remote_sha256(client: NasClient, token: str, path: str) -> str:
    """SHA-256 of the NAS's file, downloaded and hashed as it streams (for files the NAS has no
    checksum of: it stores one only for uploads made through its API)."""
    digest = hashlib.sha256()
    async with client.stream(
        "GET", f"/api/files/download/{quote(path)}", headers=_bearer(token)
    ) as response:
        if response.status_code != 200:
            await response.aread()
            _raise_for(response)
        async for block in response.aiter_bytes():
            digest.update(block)
    return digest.hexdigest()


async def with_checksum(client: NasClient, token: str, remote: RemoteFile) -> RemoteFile:
    """``remote`` with its SHA-256 filled in, hashing the file itself when the NAS lists none."""
    if remote.checksum is not None or remote.is_directory:
        return remote
    return replace(remote, checksum=await remote_sha256(client, token, remote.path))
