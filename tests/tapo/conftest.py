"""Fixtures for the Tapo service: real python-kasa against plug emulators on loopback.

Plugs are ``PlugEmulator``s (KLAP v2 over real HTTP) sharing the test's ``ManualClock``, so their
energy counters and the service's timestamps move only when a test moves time. The service under
test does not poll in the background (``poll=False``); tests run rounds with ``poll_round()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.config import Settings
from balupi.services.auth import jwt
from balupi.services.nas.history import LinkHistory
from balupi.services.nas.link import NasLink
from balupi.services.tapo import (
    AlertRules,
    LivePlug,
    PlugAddress,
    PlugConnector,
    PlugStore,
    PollTiming,
    TapoService,
)
from balupi.sim.plug import PlugConfig, PlugEmulator
from tests.conftest import TEST_NAS_JWT_SECRET

USER = "owner@example.com"
PASSWORD = "correct horse"
BERLIN = ZoneInfo("Europe/Berlin")
# Short enough that rounds with dead plugs stay quick; long enough for a loaded CI machine.
TIMING = PollTiming(interval_s=30, timeout_s=3.0, failures_before_offline=3, error_interval_s=120)

PlugFactory = Callable[..., Awaitable[PlugEmulator]]
ServiceFactory = Callable[..., Awaitable[TapoService]]
DeadAddress = Callable[[], PlugAddress]


def mac(n: int) -> str:
    return f"AA:BB:CC:00:00:{n:02X}"


def address(plug: PlugEmulator) -> PlugAddress:
    return PlugAddress(plug.host, plug.port)


def live(tapo: TapoService, device_id: int) -> LivePlug:
    """The plug's live state (it must be registered)."""
    plug = tapo.live.get(device_id)
    assert plug is not None
    return plug


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 14, 10, 0, tzinfo=BERLIN).astimezone(UTC))


@pytest.fixture
async def plugs(clock: ManualClock) -> AsyncIterator[PlugFactory]:
    """``await plugs(n, power="constant:40", …)``: a running emulator with MAC ``mac(n)``."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(n: int = 1, **options: Any) -> PlugEmulator:
            config = PlugConfig(
                **{
                    "username": USER,
                    "password": PASSWORD,
                    "mac": mac(n),
                    "alias": f"plug {n}",
                    "power": "constant:40",
                    "clock": clock,
                    **options,
                }
            )
            return await stack.enter_async_context(PlugEmulator(config))

        yield start


@pytest.fixture
async def nas_link(
    sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> AsyncIterator[NasLink]:
    """A NAS link with no NAS URL: it learns only from the evidence pushed into it."""
    link = NasLink(None, LinkHistory(sessions), clock)
    await link.start()
    yield link
    await link.aclose()


@pytest.fixture
async def services(
    sessions: async_sessionmaker[AsyncSession], nas_link: NasLink, clock: ManualClock
) -> AsyncIterator[ServiceFactory]:
    """``await services(password=…, rules=…)``: a started Tapo service on the shared database."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            *, username: str = USER, password: str = PASSWORD, rules: AlertRules | None = None
        ) -> TapoService:
            service = TapoService(
                PlugStore(sessions),
                PlugConnector(username, password, request_timeout_s=TIMING.timeout_s),
                nas_link,
                clock,
                timing=TIMING,
                rules=rules or AlertRules(),
                poll=False,
            )
            return await stack.enter_async_context(service)

        yield start


@pytest.fixture
async def tapo(services: ServiceFactory) -> TapoService:
    return await services()


@pytest.fixture
async def stalled() -> AsyncIterator[PlugAddress]:
    """A loopback port that accepts connections and never answers (a hung plug)."""
    hold = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await hold.wait()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield PlugAddress("127.0.0.1", port)
    hold.set()
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
def dead(unused_tcp_port_factory: Callable[[], int]) -> DeadAddress:
    """Loopback addresses with nothing listening (a plug that is off)."""
    return lambda: PlugAddress("127.0.0.1", unused_tcp_port_factory())


@contextlib.contextmanager
def counting_commits(engine: AsyncEngine) -> Iterator[list[None]]:
    """Every COMMIT the engine sends while the block runs, one entry each."""
    commits: list[None] = []

    def on_commit(connection: Any) -> None:
        commits.append(None)

    event.listen(engine.sync_engine, "commit", on_commit)
    try:
        yield commits
    finally:
        event.remove(engine.sync_engine, "commit", on_commit)


# -- the app ------------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The suite's settings with a Tapo account, and polling too slow to race a test's rounds."""
    monkeypatch.delenv("BALUPI_CONFIG", raising=False)
    return Settings(
        data_dir=tmp_path / "data",
        nas_jwt_secret=TEST_NAS_JWT_SECRET,
        mdns_enabled=False,
        tapo_username=USER,
        tapo_password=PASSWORD,
        energy_poll_seconds=3600,
        _env_prefix="BALUPI_TEST_UNUSED_",  # type: ignore[call-arg]
    )


@pytest.fixture
def user_headers() -> dict[str, str]:
    """``Authorization`` for a user who is not an admin."""
    now = int(time.time())
    claims = {
        "sub": "2",
        "username": "alice",
        "role": "user",
        "type": "access",
        "exp": now + 900,
        "iat": now,
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, TEST_NAS_JWT_SECRET)}"}
