"""``create_app(settings)``: the ASGI app, its routers, and the lifespan that runs its services.

Services are built once per app from the settings (the ordered steps of ``startup.py``),
entered on one ``AsyncExitStack`` in dependency order and closed in reverse on shutdown. Nothing
here is a module-level singleton: two apps in one process (as in the tests) share nothing.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from balupi import __version__
from balupi.api.connection import ConnectionDropMiddleware
from balupi.api.errors import install_error_handlers
from balupi.api.main import include_routers
from balupi.api.middleware import RequestContextMiddleware
from balupi.clock import Clock, SystemClock
from balupi.config import Settings
from balupi.logs import get_logger
from balupi.services.watchdog import Watchdog
from balupi.startup import start_services

log = get_logger(__name__)


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build BaluPi for ``settings``; its services start when the app's lifespan starts."""
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            # First in: systemd's watchdog is fed through the migrations that start-up runs.
            await stack.enter_async_context(Watchdog.from_environment())
            app.state.services = await start_services(settings, clock, stack)
            # Everything start-up built lives as long as the process: moved out of the
            # collector's sight, later full collections stay short (they were 100+ ms pauses).
            gc.collect()
            gc.freeze()
            log.info("balupi started", version=__version__, env=settings.env)
            yield
            log.info("balupi stopping")

    app = FastAPI(
        title="BaluPi",
        version=__version__,
        lifespan=lifespan,
        docs_url=None if settings.is_production else "/api/docs",
        redoc_url=None,
        openapi_url=None if settings.is_production else "/api/openapi.json",
    )
    install_error_handlers(app)
    # Innermost of the middlewares: the outer ones would answer DropConnection with a 500.
    app.add_middleware(ConnectionDropMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(RequestContextMiddleware)
    include_routers(app)
    return app
