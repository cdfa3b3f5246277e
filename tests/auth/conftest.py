"""Fixtures for the auth tests: ``make_home`` builds a NAS emulator with BaluPi in front."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from balupi.app import create_app
from balupi.config import Settings
from balupi.server import running_server
from balupi.services.auth import verifier
from balupi.services.auth.verifier import ScryptParams
from balupi.services.container import Services
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from balupi.sim.nas.state import EmulatedNas
from tests.auth.home import HANDSHAKE_SECRET, NAS_SECRET, USERS, Home, HomeFactory
from tests.clocks import RealSleepClock


@pytest.fixture(autouse=True)
def cheap_verifiers(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at a sixteenth of its cost: the same code path, without seconds of hashing per
    test (``test_verifier.py`` covers the real parameters)."""
    monkeypatch.setattr(verifier, "DEFAULT_PARAMS", ScryptParams(n=2**11))


@pytest.fixture
def make_home(tmp_path: Path, settings: Settings) -> HomeFactory:
    """``async with make_home(secret=True) as home``: a NAS and BaluPi, both up and talking.

    Both share the handshake secret (the NAS's signed notices reach the Pi); with ``wol`` the
    Pi's magic packets go to the emulator's Wake-on-LAN listener and really wake it.
    """

    @contextlib.asynccontextmanager
    async def home(
        *, secret: bool, name: str = "home", login_limit: int | None = None, wol: bool = False
    ) -> AsyncIterator[Home]:
        root = tmp_path / name
        clock = RealSleepClock(datetime.now(UTC))  # the NAS link polls on real time
        nas_state = EmulatedNas(
            root / "nas",
            NAS_SECRET,
            clock=lambda: clock.now().timestamp(),
            login_rate_limit=login_limit,  # the NAS's 5 a minute per address, when a test wants it
            refresh_rate_limit=None,
        )
        config = NasEmulatorConfig(
            storage=root / "nas",
            jwt_secret=NAS_SECRET,
            users=USERS,
            boot_seconds=0,
            wol_port=0 if wol else None,
        )
        nas = NasEmulator(config, state=nas_state)
        await nas.start()
        wake_to = (
            {"nas_mac": config.mac, "wol_broadcast": "127.0.0.1", "wol_port": nas.wol_port}
            if wol
            else {}
        )
        try:
            pi_settings = settings.model_copy(
                update={
                    "data_dir": root / "pi",
                    "nas_url": nas.api_url,
                    "nas_jwt_secret": SecretStr(NAS_SECRET) if secret else None,
                    "nas_handshake_secret": SecretStr(HANDSHAKE_SECRET),
                    **wake_to,
                }
            )
            app = create_app(pi_settings, clock=clock)
            server = running_server(app)
            url = (await server.__aenter__()).url
        except BaseException:
            await nas.close()
            raise
        try:
            async with httpx.AsyncClient(base_url=url, timeout=10) as pi:
                services: Services = app.state.services
                assert await services.nas_link.wait_online(5), "the Pi never saw the NAS"
                yield Home(clock, nas, services, pi, url, app)
        finally:
            # Both stop at once: each Uvicorn takes a tenth of a second or more to wind down.
            await asyncio.gather(server.__aexit__(None, None, None), nas.close())

    return home
