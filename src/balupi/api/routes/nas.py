"""``/api/nas/*``: the NAS's state as the Pi sees it, and Wake-on-LAN (Pi-exclusive)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, field_validator

from balupi.api.deps import CurrentUser, ServicesDep
from balupi.clock import utc_iso
from balupi.services.nas.history import time_by_state
from balupi.services.nas.magic_packet import normalize_mac
from balupi.services.nas.status import nas_status

router = APIRouter(prefix="/api/nas", tags=["nas"])

OTHER_MAC_ADMIN_ONLY = "Only an administrator can send Wake-on-LAN to another device."


class WakeRequest(BaseModel):
    """Optional body of ``POST /api/nas/wol``; without it the configured NAS is woken."""

    mac: str | None = None

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: str | None) -> str | None:
        return normalize_mac(value) if value else None


@router.get("/status")
async def get_status(services: ServicesDep, user: CurrentUser) -> dict[str, Any]:
    return await nas_status(
        services.nas_link, services.clock, services.settings.zone, services.nas_gate
    )


HISTORY_DEFAULT_SPAN = timedelta(days=1)
HISTORY_MAX_SPAN = timedelta(days=400)


@router.get("/history")
async def get_history(
    services: ServicesDep,
    user: CurrentUser,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
) -> dict[str, Any]:
    """The NAS link's transitions between ``from`` and ``to`` (default: the last 24 hours).

    The first transition listed is the one in force at ``from`` (it may be older), so the state
    at every instant of the window is known from the list; awake and asleep seconds are summed
    as in ``/api/nas/status``'s ``today``.
    """
    end = to or services.clock.now()
    start = from_ or end - HISTORY_DEFAULT_SPAN
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(422, "'from' and 'to' need a time zone: add Z or an offset")
    if not start < end:
        raise HTTPException(422, "'from' must come before 'to'")
    if end - start > HISTORY_MAX_SPAN:
        raise HTTPException(422, f"the window spans at most {HISTORY_MAX_SPAN.days} days")
    records = [r for r in await services.nas_link.history.transitions_since(start) if r.at <= end]
    totals = time_by_state(records, start, end)
    return {
        "from": utc_iso(start),
        "to": utc_iso(end),
        "awake_seconds": int(totals["awake"].total_seconds()),
        "asleep_seconds": int(totals["asleep"].total_seconds()),
        "transitions": [
            {
                "at": utc_iso(r.at),
                "from": r.from_state.value,
                "to": r.to_state.value,
                "evidence": r.evidence,
            }
            for r in records
        ],
    }


@router.post("/wol")
async def wake_on_lan(
    services: ServicesDep, user: CurrentUser, body: WakeRequest | None = None
) -> dict[str, Any]:
    """Wake the NAS (any user), or another machine by its MAC (administrators only).

    Only the configured NAS's MAC counts as the NAS's wake; a packet to any other MAC changes
    nothing in what the Pi believes about the NAS.
    """
    waker = services.nas_waker
    nas_mac = services.nas_link.mac
    mac = body.mac if body and body.mac else nas_mac
    if mac is not None and mac != nas_mac:
        if not user.is_admin:
            raise HTTPException(403, OTHER_MAC_ADMIN_ONLY)
        result = waker.wake_other(mac, f"requested through the API by {user.username}")
    else:
        result = await waker.wake("requested through the API")
    return {"sent": result.sent, "state": result.state.value, "mac": mac}
