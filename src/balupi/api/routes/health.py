"""``/api/health`` and ``/api/ping``: BaluHost's health shape, plus ``hostname``.

No auth and no call to the NAS: clients poll this every 30 s and must get a fast 2xx while the
NAS sleeps (docs/compat/clients.md §6). ``hostname`` is what BaluHost's "test BaluPi" button reads.
"""

from __future__ import annotations

import socket

from fastapi import APIRouter
from pydantic import BaseModel

from balupi import __version__
from balupi.api.middleware import API_MIN_VERSION, API_VERSION

router = APIRouter(prefix="/api", tags=["health"])


class HealthPublic(BaseModel):
    status: str
    version: str
    api_version: str
    min_api_version: str
    hostname: str


@router.get("/health")
@router.get("/ping")
async def health() -> HealthPublic:
    return HealthPublic(
        status="ok",
        version=__version__,
        api_version=API_VERSION,
        min_api_version=API_MIN_VERSION,
        hostname=socket.gethostname(),
    )
