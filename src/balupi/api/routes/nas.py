"""``/api/nas/*``: the NAS's state as the Pi sees it, and Wake-on-LAN (Pi-exclusive)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, field_validator

from balupi.api.deps import CurrentUser, ServicesDep
from balupi.services.nas.magic_packet import normalize_mac
from balupi.services.nas.status import nas_status

router = APIRouter(prefix="/api/nas", tags=["nas"])


class WakeRequest(BaseModel):
    """Optional body of ``POST /api/nas/wol``; without it the configured NAS is woken."""

    mac: str | None = None

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: str | None) -> str | None:
        return normalize_mac(value) if value else None


@router.get("/status")
async def get_status(services: ServicesDep, user: CurrentUser) -> dict[str, Any]:
    return await nas_status(services.nas_link, services.clock, services.settings.zone)


@router.post("/wol")
async def wake_on_lan(
    services: ServicesDep, user: CurrentUser, body: WakeRequest | None = None
) -> dict[str, Any]:
    mac = body.mac if body and body.mac else services.nas_link.mac
    result = await services.nas_waker.wake("requested through the API", mac=mac)
    return {"sent": result.sent, "state": result.state.value, "mac": mac}
