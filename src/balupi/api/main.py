"""The routers of the API, mounted in the one order that makes their paths resolve.

Starlette tries routes in the order they were added, so the order is part of the contract:
routers with specific ``/api/files/...`` paths come before ``files`` (whose
``DELETE /api/files/{path}`` matches every path below ``/api/files``), the pass-through (the
catch-all for every other ``/api`` path) after every ``/api`` router, and the dashboard (every
path outside ``/api``) last.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from balupi.api.routes import (
    auth,
    downloads,
    energy_live,
    files,
    handshake,
    health,
    nas,
    passthrough,
    resumable,
    sync,
    system,
    tapo,
    uploads,
    web,
)
from balupi.api.routes import cache as cache_routes
from balupi.api.routes.energy import costs as energy_costs
from balupi.api.routes.energy import history as energy_history
from balupi.api.routes.energy import summary as energy_summary
from balupi.api.routes.energy import tariffs as energy_tariffs

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    auth.router,
    system.router,
    nas.router,
    tapo.router,
    energy_live.router,
    energy_history.router,
    energy_costs.router,
    energy_summary.router,
    energy_tariffs.router,
    handshake.router,
    uploads.router,
    resumable.router,
    sync.router,
    downloads.router,
    cache_routes.router,
    files.router,  # after routers with more specific /api/files paths
    passthrough.router,  # last of /api: the catch-all for every other /api path
    web.router,  # the dashboard: every path outside /api
)


def include_routers(app: FastAPI) -> None:
    """Mount every router on ``app``, in ``ROUTERS``'s order."""
    for router in ROUTERS:
        app.include_router(router)
