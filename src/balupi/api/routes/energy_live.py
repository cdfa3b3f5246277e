"""``/api/energy/current`` and ``/api/energy/alerts``: live power and the alerts (Pi-exclusive).

``current`` answers from the Tapo service's in-memory latest readings, never from the database,
so it is never blank between writes. Its ``devices[].{device_id, name, power_w, voltage_v,
current_a}`` and ``total_power_w`` are the shape BaluHost's Pi dashboard reads
(docs/compat/nas-api.md §5.1). History, costs, summaries and tariffs are ``routes/energy/``'s.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from balupi.api.deps import CurrentUser, TapoDep
from balupi.api.tapo_schemas import AlertOut, AlertsOut, CurrentOut

router = APIRouter(prefix="/api/energy", tags=["energy"])


@router.get("/current")
async def current_power(tapo: TapoDep, user: CurrentUser) -> CurrentOut:
    return CurrentOut.of(tapo.current())


@router.get("/alerts")
async def energy_alerts(
    tapo: TapoDep,
    user: CurrentUser,
    active: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertsOut:
    """Active alerts (``active=false``: cleared ones too), newest first."""
    alerts = await tapo.alerts(active_only=active, limit=limit)
    return AlertsOut(alerts=[AlertOut.of(alert) for alert in alerts])
