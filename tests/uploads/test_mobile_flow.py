"""The seed's mobile flow against the NAS emulator: upload while it sleeps, land once it wakes."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from balupi.app import create_app
from balupi.config import Settings
from balupi.db.models import NasState, QueueStatus, UploadQueueEntry
from balupi.server import running_server
from balupi.services.container import Services
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig, UserSpec

JWT_SECRET = "emulated-nas-secret-for-the-mobile-flow-0123456789"
USERS = (
    UserSpec("admin", "admin-pw", "admin"),
    UserSpec("alice", "alice-pw", "user"),
    UserSpec("bob", "bob-pw", "user"),
)


async def eventually(condition: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await _holds(condition):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def _holds(condition: Callable[[], object]) -> bool:
    result = condition()
    if asyncio.iscoroutine(result):
        result = await result
    return bool(result)


@pytest.fixture
async def home(
    tmp_path: Path, settings: Settings
) -> AsyncIterator[tuple[NasEmulator, str, Services]]:
    config = NasEmulatorConfig(
        storage=tmp_path / "nas",
        users=USERS,
        jwt_secret=JWT_SECRET,
        boot_seconds=0.3,
        start_asleep=True,
    )
    async with NasEmulator(config) as nas:
        pi_settings = settings.model_copy(
            update={
                "nas_url": nas.api_url,
                "nas_jwt_secret": SecretStr(JWT_SECRET),
                "nas_mac": config.mac,
                "wol_broadcast": "127.0.0.1",
                "wol_port": nas.wol_port,
            }
        )
        app = create_app(pi_settings)
        async with running_server(app) as server:
            services: Services = app.state.services
            await eventually(lambda: services.nas_link.state is NasState.SLEEPING)
            yield nas, server.url, services


def token(user_id: int, username: str, role: str = "user") -> dict[str, str]:
    import time

    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "username": username,
        "role": role,
        "type": "access",
        "iat": now,
        "exp": now + 900,
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


async def test_upload_while_asleep_lands_on_the_nas_once_it_wakes(
    home: tuple[NasEmulator, str, Services],
) -> None:
    nas, url, services = home
    alice = token(2, "alice")
    photo = b"\xff\xd8\xff\xe0 holiday photo " * 4096
    served_while_asleep = nas.nas.requests_served

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post(
            "/api/files/upload",
            headers={**alice, "X-Sync-Trigger": "auto"},
            data={"path": "alice/Camera/IMG_0001.jpg"},
            files={"file": ("IMG_0001.jpg", photo, "image/jpeg")},
        )
        assert response.status_code == 200
        assert nas.nas.requests_served == served_while_asleep  # nothing touched the sleeping NAS

        wake = await client.post("/api/nas/wol", headers=token(1, "admin", "admin"))
        assert wake.status_code == 200

        async def synced() -> bool:
            async with services.sessions() as session:
                row = await session.scalar(select(UploadQueueEntry))
            return row is not None and row.status is QueueStatus.SYNCED

        await eventually(synced)

        async with httpx.AsyncClient(base_url=nas.api_url) as direct:
            listing = await direct.get(
                "/api/files/list", params={"path": "alice/Camera"}, headers=alice
            )
    [item] = listing.json()["files"]
    assert item["name"] == "IMG_0001.jpg"
    assert item["checksum"] == hashlib.sha256(photo).hexdigest()
    assert item["owner_id"] == "2"
    assert (nas.config.storage / "alice/Camera/IMG_0001.jpg").read_bytes() == photo
    async with services.sessions() as session:
        row = await session.scalar(select(UploadQueueEntry))
    assert row is not None
    assert not Path(row.local_path or "").exists()  # released once the NAS listed the same hash
