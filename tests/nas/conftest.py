"""Fixtures for the NAS link tests: a migrated database and a NAS stand-in that counts requests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import SystemClock
from balupi.db.engine import create_engine, create_sessionmaker
from balupi.db.migrate import upgrade_to_head
from balupi.db.models import NasState
from balupi.services.container import Services
from balupi.services.nas.client import NasClient
from balupi.services.nas.history import LinkHistory
from balupi.services.nas.link import LinkTiming, NasLink
from tests.waiting import eventually


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'link.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    engine = create_engine(url)
    yield create_sessionmaker(engine)
    await engine.dispose()


class FakeNas:
    """A NAS behind ``httpx.MockTransport``: answers health while ``up``, counts every request."""

    def __init__(self) -> None:
        self.up = True
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"status": "ok", "version": "1.38.0"})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


@pytest.fixture
def fake_nas() -> FakeNas:
    return FakeNas()


async def link_reaches(services: Services, state: NasState, timeout: float) -> None:
    """Wait (bounded) until the NAS link reaches ``state``, woken by its transition listener."""
    changed = asyncio.Event()
    remove = services.nas_link.add_listener(lambda old, new: changed.set())
    try:
        async with asyncio.timeout(timeout):
            while services.nas_link.state is not state:
                await changed.wait()
                changed.clear()
    finally:
        remove()


@contextlib.asynccontextmanager
async def running_link(
    url: str,
    sessions: async_sessionmaker[AsyncSession],
    timing: LinkTiming,
    reached: NasState,
) -> AsyncIterator[NasLink]:
    """A started ``NasLink`` to ``url`` (system clock) once it is ``reached``; stopped after."""
    async with NasClient(url) as client:
        link = NasLink(client, LinkHistory(sessions), SystemClock(), timing=timing)
        await link.start()
        await eventually(lambda: link.state is reached)
        yield link
        await link.aclose()
