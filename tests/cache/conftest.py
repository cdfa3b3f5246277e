"""Fixtures for the cache tests: the auth tests' simulated home (NAS emulator + BaluPi on
loopback, real HTTP) with files on the NAS and a NAS link that stays quiet while we count."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from balupi.services.cache import FileCache
from tests.auth.conftest import make_home  # the simulated home, shared with the auth tests
from tests.auth.home import Home, HomeFactory
from tests.waiting import eventually

__all__ = ["make_home"]

MiB = 1024 * 1024


def pattern(size: int, seed: int = 0) -> bytes:
    """``size`` bytes that are not all alike (so a shifted or truncated copy cannot pass)."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


@dataclass
class CacheHome:
    home: Home

    @property
    def cache(self) -> FileCache:
        return self.home.services.cache

    @property
    def storage(self) -> Path:
        return self.home.nas.config.storage

    def put(self, path: str, data: bytes) -> bytes:
        """Place ``data`` at ``path`` on the NAS (as if copied onto its disk)."""
        target = self.storage / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return data

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.home.nas_access_token(username)}"}

    async def download(self, username: str, path: str, **headers: str) -> httpx.Response:
        return await self.home.pi.get(
            f"/api/files/download/{path}", headers={**self.auth(username), **headers}
        )

    async def from_nas(self, username: str, path: str, **headers: str) -> httpx.Response:
        async with self.home.nas_client() as nas:
            return await nas.get(
                f"/api/files/download/{path}", headers={**self.auth(username), **headers}
            )

    def nas_requests(self) -> int:
        return self.home.nas_requests()

    async def quiet_link(self) -> None:
        """Stop the link's periodic health checks, so the NAS's counter moves only for us."""
        link = self.home.services.nas_link
        link.timing = replace(link.timing, health_interval=3600.0)
        before = self.nas_requests()
        await link.report_unreachable("test: reschedule the health checks")  # one check now
        await eventually(lambda: self.nas_requests() > before)
        await eventually(lambda: link.state.value == "online")

    async def settled(self) -> None:
        """Until no fill is in flight (a fill finishes in the background after its readers)."""
        await eventually(lambda: self.cache.fills_in_flight == 0)

    def temp_files(self) -> list[Path]:
        return list(self.cache.store.tmp.iterdir())


@pytest.fixture
async def cache_home(make_home: HomeFactory) -> AsyncIterator[CacheHome]:
    """The NAS (users admin, maria, bob) and BaluPi in front of it, both up, the link quiet."""
    async with make_home(secret=True) as home:
        ours = CacheHome(home)
        await ours.quiet_link()
        yield ours
