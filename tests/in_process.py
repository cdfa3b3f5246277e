"""BaluPi in the test's own process, in front of a NAS emulator: the lifespan runs (link, worker,
database) and the client talks to it over ASGI, with no socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from pydantic import SecretStr

from balupi.app import create_app
from balupi.config import Settings
from balupi.services.container import Services
from balupi.sim.nas.server import NasEmulator
from balupi.sim.nas.users import DEFAULT_JWT_SECRET


@asynccontextmanager
async def pi_in_front_of(
    nas: NasEmulator, settings: Settings, data_dir: Path, **update: object
) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    """BaluPi's services and a client to it, trusting the emulator's default signing key;
    ``update`` sets further settings (probe interval, sync wait)."""
    pi_settings = settings.model_copy(
        update={
            "data_dir": data_dir,
            "nas_url": nas.api_url,
            "nas_jwt_secret": SecretStr(DEFAULT_JWT_SECRET),
            **update,
        }
    )
    app = create_app(pi_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://balupi.test", timeout=10
        ) as pi:
            yield app.state.services, pi
