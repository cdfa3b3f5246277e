"""Fixtures for the standing suite: one NAS emulator and one BaluPi, served from a background loop.

The standing checks (schemathesis, property runs) are synchronous: hypothesis drives them, and
it cannot await. So the emulated home runs on its own event loop in a thread, BaluPi under Uvicorn
on loopback, and the tests talk to it over HTTP as the clients do. One home serves a whole module;
what a test changes (the NAS asleep) it puts back.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr

from balupi.app import create_app
from balupi.clock import ManualClock
from balupi.config import Settings
from balupi.server import running_server
from balupi.services.container import Services
from balupi.sim.measure import free_port
from balupi.sim.nas.server import NasEmulator
from tests.files.conftest import FAST_LINK, NAS_SECRET, PASSWORDS, STANDBY_WATTS, clocked_nas

_T = TypeVar("_T")

SETUP_TIMEOUT_S = 30.0

# What the fuzz suite ran, for the closing figures: filled by test_fuzz.py, printed at the end.
FUZZ_TALLY = {"cases": 0, "operations": 0}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FUZZ_TALLY["cases"]:
        terminalreporter.write_line(
            f"standing fuzz: {FUZZ_TALLY['cases']} cases fuzzed "
            f"over {FUZZ_TALLY['operations']} operation runs"
        )


class BackgroundLoop:
    """An event loop in a daemon thread; ``run`` hands it a coroutine and waits for the result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, work: Coroutine[Any, Any, _T], timeout: float = SETUP_TIMEOUT_S) -> _T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(SETUP_TIMEOUT_S)
        self.loop.close()


@dataclass
class StandingHome:
    """The emulated NAS and BaluPi in front of it; ``url`` is BaluPi's, ``headers`` per user."""

    url: str
    openapi: dict[str, Any]
    nas: NasEmulator
    services: Services
    background: BackgroundLoop
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def call(self, work: Awaitable[_T]) -> _T:
        async def wrapped() -> _T:
            return await work

        return self.background.run(wrapped())

    @contextlib.contextmanager
    def nas_asleep(self) -> Iterator[None]:
        """The NAS suspended and BaluPi aware of it (the plug's standby draw); awake after."""

        async def sleep() -> None:
            await self.nas.sleep()
            await self.services.nas_link.report_power(STANDBY_WATTS)

        async def wake() -> None:
            await self.nas.wake()
            await self.services.nas_link.report_coming_online("standing suite: NAS back")
            assert await self.services.nas_link.wait_online(10), "the Pi never saw the NAS"

        self.call(sleep())
        try:
            yield
        finally:
            self.call(wake())


@pytest.fixture(scope="module")
def standing_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandingHome]:
    """A NAS emulator with admin, alice and bob, BaluPi on loopback in front of it, both awake.

    Wake-on-LAN goes to a port nobody listens on, so a request that would wake a sleeping NAS
    waits ``wake_wait_seconds`` (kept short) and gets its 503: the NAS stays asleep until the
    test wakes it.
    """
    root = tmp_path_factory.mktemp("standing")
    background = BackgroundLoop()
    stack = contextlib.AsyncExitStack()

    async def start() -> StandingHome:
        clock = ManualClock(datetime.now(UTC))
        nas = await stack.enter_async_context(clocked_nas(root / "nas", clock, boot_seconds=0.0))
        settings = Settings(
            data_dir=root / "pi",
            nas_url=nas.api_url,
            nas_jwt_secret=SecretStr(NAS_SECRET),
            nas_mac=nas.config.mac,
            wol_broadcast="127.0.0.1",
            wol_port=free_port(),
            wake_wait_seconds=0.2,
            mdns_enabled=False,
            _env_prefix="BALUPI_TEST_UNUSED_",  # type: ignore[call-arg]
        )
        app = create_app(settings, clock=clock)
        server = await stack.enter_async_context(running_server(app))
        services: Services = app.state.services
        services.nas_link.timing = FAST_LINK
        assert await services.nas_link.wait_online(10), "the Pi never saw the NAS"
        home = StandingHome(server.url, app.openapi(), nas, services, background)
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as pi:
            for user in ("admin", "alice"):
                response = await pi.post(
                    "/api/auth/login", json={"username": user, "password": PASSWORDS[user]}
                )
                assert response.status_code == 200, response.text
                token = response.json()["access_token"]
                home.headers[user] = {"Authorization": f"Bearer {token}"}
        return home

    try:
        yield background.run(start())
    finally:
        background.run(stack.aclose())
        background.close()
