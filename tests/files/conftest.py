"""A home for the files tests: the NAS emulator with files in it, and BaluPi in front.

Both share one ``ManualClock`` (started at the real time, so NAS tokens look ordinary), so a test
can age a cached listing without sleeping. Users log in through the Pi's own
``/api/auth/login``, which forwards to the NAS, so every request to the NAS carries a token the
NAS issued. Two ways to take the NAS away:

* ``pi_believes_nas_sleeps()``: only the Pi is told (the plug's standby draw); the NAS keeps
  listening and counting requests, so a test can prove the Pi sends it none;
* ``nas_sleeps()``: the emulator really suspends, and wakes on a magic packet from the Pi.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from balupi.app import create_app
from balupi.clock import ManualClock
from balupi.config import Settings
from balupi.server import running_server
from balupi.services.container import Services
from balupi.services.nas.link import LinkTiming
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from balupi.sim.nas.state import EmulatedNas
from balupi.sim.nas.users import UserSpec
from tests.clocks import RealSleepClock

NAS_SECRET = "emulated-baluhost-secret-key-for-files-tests-01"
STANDBY_WATTS = 5.0  # the NAS plug's draw while the NAS is suspended
PASSWORDS = {"admin": "admin-password", "alice": "alice-password", "bob": "bob-password"}
USERS = (
    UserSpec("admin", PASSWORDS["admin"], "admin"),
    UserSpec("alice", PASSWORDS["alice"], "user"),
    UserSpec("bob", PASSWORDS["bob"], "user"),
)
FAST_LINK = LinkTiming(waking_interval=0.05, first_retry=0.05, max_retry=0.1)


def clocked_nas(storage: Path, clock: ManualClock, **options: Any) -> NasEmulator:
    """The NAS emulator with ``USERS`` on the test's ``clock``, without login rate limits (the
    tests log in often); ``options`` go to its config (boot time, sleep settings)."""
    state = EmulatedNas(
        storage,
        NAS_SECRET,
        clock=lambda: clock.now().timestamp(),
        login_rate_limit=None,
        refresh_rate_limit=None,
    )
    config = NasEmulatorConfig(storage=storage, jwt_secret=NAS_SECRET, users=USERS, **options)
    return NasEmulator(config, state=state)


@dataclass
class FilesHome:
    clock: ManualClock
    nas: NasEmulator
    services: Services
    pi: httpx.AsyncClient  # to BaluPi
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)

    # -- the NAS ----------------------------------------------------------------------------
    def nas_requests(self) -> int:
        """Requests the NAS has served so far (health checks included)."""
        return self.nas.nas.requests_served

    def nas_disk(self, path: str) -> Path:
        return self.nas.config.storage / path

    async def pi_believes_nas_sleeps(self) -> None:
        await self.services.nas_link.report_power(STANDBY_WATTS)

    async def nas_sleeps(self) -> None:
        await self.nas.sleep()
        await self.services.nas_link.report_power(STANDBY_WATTS)

    async def nas_is_back(self) -> None:
        await self.services.nas_link.report_coming_online("test: the NAS is up again")

    @contextlib.asynccontextmanager
    async def direct(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client talking to the NAS itself, as if the Pi were not there."""
        async with httpx.AsyncClient(base_url=self.nas.api_url, timeout=10) as client:
            yield client

    async def nas_list(self, user: str, path: str) -> httpx.Response:
        async with self.direct() as nas:
            return await nas.get(
                "/api/files/list", params={"path": path}, headers=await self.auth(user)
            )

    async def nas_names(self, user: str, path: str) -> list[str]:
        response = await self.nas_list(user, path)
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["files"]]

    async def upload(self, user: str, folder: str, name: str, data: bytes) -> None:
        """A file uploaded to the NAS directly (so it has a ``file_id`` and a checksum).

        ``path`` names the file itself (the NAS's dot heuristic), which needs no folder owned
        by the user beforehand.
        """
        async with self.direct() as nas:
            response = await nas.post(
                "/api/files/upload",
                data={"path": f"{folder}/{name}"},
                files={"file": (name, data, "application/octet-stream")},
                headers=await self.auth(user),
            )
        assert response.status_code == 200, response.text

    # -- the Pi -----------------------------------------------------------------------------
    async def auth(self, user: str) -> dict[str, str]:
        """``Authorization`` for ``user``, from a login through the Pi (cached per test)."""
        if user not in self._headers:
            response = await self.pi.post(
                "/api/auth/login", json={"username": user, "password": PASSWORDS[user]}
            )
            assert response.status_code == 200, response.text
            self._headers[user] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return self._headers[user]

    async def listing(self, user: str, path: str, **headers: str) -> httpx.Response:
        return await self.pi.get(
            "/api/files/list", params={"path": path}, headers={**await self.auth(user), **headers}
        )

    async def items(self, user: str, path: str) -> list[dict[str, Any]]:
        response = await self.listing(user, path)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["files"]
        return items

    async def names(self, user: str, path: str) -> list[str]:
        return [item["name"] for item in await self.items(user, path)]

    async def send(self, user: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**await self.auth(user), **kwargs.pop("headers", {})}
        return await self.pi.request(method, url, headers=headers, **kwargs)


HomeFactory = Callable[..., AbstractAsyncContextManager[FilesHome]]


@pytest.fixture
def make_home(tmp_path: Path, settings: Settings) -> HomeFactory:
    """``async with make_home() as home``: a NAS with files, BaluPi in front, both up."""

    @contextlib.asynccontextmanager
    async def home(
        *, boot_seconds: float = 0.0, wake_wait_seconds: float = 5.0
    ) -> AsyncIterator[FilesHome]:
        clock = RealSleepClock(datetime.now(UTC))  # the NAS link polls on real time
        async with clocked_nas(tmp_path / "nas", clock, boot_seconds=boot_seconds) as nas:
            pi_settings = settings.model_copy(
                update={
                    "data_dir": tmp_path / "pi",
                    "nas_url": nas.api_url,
                    "nas_jwt_secret": SecretStr(NAS_SECRET),
                    "nas_mac": nas.config.mac,
                    "wol_broadcast": "127.0.0.1",
                    "wol_port": nas.wol_port,
                    "wake_wait_seconds": wake_wait_seconds,
                }
            )
            app = create_app(pi_settings, clock=clock)
            async with (
                running_server(app) as server,
                httpx.AsyncClient(base_url=server.url, timeout=20) as pi,
            ):
                services: Services = app.state.services
                services.nas_link.timing = FAST_LINK
                assert await services.nas_link.wait_online(5), "the Pi never saw the NAS"
                files_home = FilesHome(clock, nas, services, pi)
                await _seed(files_home)
                yield files_home

    return home


async def _seed(home: FilesHome) -> None:
    """Shared photos (admin's), alice's documents, bob's private notes; all via the NAS API."""
    await home.upload("admin", "Shared/photos", "Beach.jpg", b"\xff\xd8 beach")
    await home.upload("admin", "Shared/photos", "alps.jpg", b"\xff\xd8 alps")
    await home.upload("admin", "Shared/photos/2024", "x.png", b"\x89PNG x")
    await home.upload("alice", "alice/docs", "a.txt", b"alice's a")
    await home.upload("alice", "alice/docs", "B.txt", b"alice's b")
    await home.upload("alice", "alice/docs/old", "c.txt", b"alice's c")
    await home.upload("bob", "bob/private", "notes.md", b"bob's notes")
