"""Helpers for upload and sync tests: NAS-signed tokens, and a home of NAS emulator + real Pi."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from balupi.app import create_app
from balupi.config import Settings
from balupi.db.models import NasState, UploadQueueEntry
from balupi.server import running_server
from balupi.services.auth import jwt
from balupi.services.container import Services
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from balupi.sim.nas.users import UserSpec
from tests.conftest import TEST_NAS_JWT_SECRET
from tests.waiting import eventually


def bearer(
    user_id: int, username: str, role: str = "user", secret: str = TEST_NAS_JWT_SECRET
) -> dict[str, str]:
    """``Authorization`` with an access token as the NAS signs it (HS256, BaluHost's claims)."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "username": username,
        "role": role,
        "type": "access",
        "iat": now,
        "exp": now + 900,
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, secret)}"}


ALICE = bearer(2, "alice")
BOB = bearer(3, "bob")
ADMIN = bearer(1, "admin", "admin")

HOME_JWT_SECRET = "emulated-nas-secret-for-the-home-tests-0123456789"
HOME_USERS = (
    UserSpec("admin", "admin-pw", "admin"),
    UserSpec("alice", "alice-pw", "user"),
    UserSpec("bob", "bob-pw", "user"),
)


def asleep_home_nas(storage: Path, boot_seconds: float) -> NasEmulatorConfig:
    """The home's NAS (admin, alice, bob), asleep until a magic packet wakes it."""
    return NasEmulatorConfig(
        storage=storage,
        users=HOME_USERS,
        jwt_secret=HOME_JWT_SECRET,
        boot_seconds=boot_seconds,
        start_asleep=True,
    )


@dataclass
class Home:
    """A NAS emulator (admin, alice, bob) and a real BaluPi in front of it."""

    nas: NasEmulator
    url: str
    services: Services

    def token(self, username: str) -> dict[str, str]:
        user_id = {"admin": 1, "alice": 2, "bob": 3}[username]
        role = "admin" if username == "admin" else "user"
        return bearer(user_id, username, role, HOME_JWT_SECRET)

    def pi(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30)

    def direct(self) -> httpx.AsyncClient:
        """A client of the NAS itself, bypassing the Pi."""
        return httpx.AsyncClient(base_url=self.nas.api_url, timeout=30)

    async def wake(self) -> None:
        async with self.pi() as client:
            answer = await client.post("/api/nas/wol", headers=self.token("admin"))
            assert answer.status_code == 200, answer.text
        await eventually(lambda: self.services.nas_link.state is NasState.ONLINE)

    async def queue(self) -> list[UploadQueueEntry]:
        async with self.services.sessions() as session:
            rows = await session.scalars(select(UploadQueueEntry).order_by(UploadQueueEntry.id))
            return list(rows.all())

    async def settled(self) -> None:
        """Wait until the queue has nothing left that the worker would still push (a parked,
        ``rejected`` entry waits for a person, not for the worker)."""

        async def quiet() -> bool:
            rows = await self.queue()
            return all(
                r.status.value in ("synced", "cancelled", "conflict", "rejected") for r in rows
            )

        await eventually(quiet)


@pytest.fixture
async def home(tmp_path: Path, settings: Settings) -> AsyncIterator[Home]:
    """The NAS starts asleep; the Pi has noticed that when the fixture hands over."""
    config = asleep_home_nas(tmp_path / "nas", boot_seconds=0.3)
    async with NasEmulator(config) as nas:
        pi_settings = settings.model_copy(
            update={
                "nas_url": nas.api_url,
                "nas_jwt_secret": SecretStr(HOME_JWT_SECRET),
                "nas_mac": config.mac,
                "wol_broadcast": "127.0.0.1",
                "wol_port": nas.wol_port,
            }
        )
        app = create_app(pi_settings)
        async with running_server(app) as server:
            services: Services = app.state.services
            await eventually(lambda: services.nas_link.state is NasState.SLEEPING)
            yield Home(nas, server.url, services)
