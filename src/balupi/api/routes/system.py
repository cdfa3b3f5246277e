"""``/api/system/status``: the Pi's own health (Pi-exclusive endpoint)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from balupi.api.deps import CurrentUser, SystemMonitorDep

router = APIRouter(prefix="/api/system", tags=["system"])


@router.get("/status")
async def system_status(monitor: SystemMonitorDep, user: CurrentUser) -> dict[str, Any]:
    status = await monitor.status()
    return status.as_dict()
