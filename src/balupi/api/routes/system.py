"""``/api/system/status``: the Pi's own health (Pi-exclusive endpoint)."""

from __future__ import annotations

from fastapi import APIRouter

from balupi.api.deps import CurrentUser, SystemMonitorDep
from balupi.services.system import SystemStatus

router = APIRouter(prefix="/api/system", tags=["system"])


@router.get("/status")
async def system_status(monitor: SystemMonitorDep, user: CurrentUser) -> SystemStatus:
    """The monitor's ``SystemStatus``, written field for field (its schema is the answer's)."""
    return await monitor.status()
