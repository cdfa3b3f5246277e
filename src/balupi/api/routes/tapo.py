"""``/api/tapo/*``: the Tapo plugs (Pi-exclusive). Reading needs a login, changing an admin.

Switching mains power is the most dangerous thing BaluPi can do (an earlier BaluPi let anyone on
the LAN cut the NAS's plug), so every route that changes or switches a plug takes ``AdminUser``,
and the NAS plug is not switched off while the NAS is awake unless ``force=true`` (409).
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from balupi.api.deps import AdminUser, CurrentUser, TapoDep
from balupi.api.params import RowId
from balupi.api.tapo_schemas import (
    AddPlugIn,
    DiscoveredOut,
    DiscoverIn,
    DiscoveryOut,
    PlugAddedOut,
    PlugOut,
    PlugsOut,
    ToggleIn,
    UpdatePlugIn,
)
from balupi.services.tapo import PlugAddress

router = APIRouter(prefix="/api/tapo", tags=["tapo"])


class PlugDeletedOut(BaseModel):
    deleted: int


@router.get("/devices")
async def list_plugs(tapo: TapoDep, user: CurrentUser) -> PlugsOut:
    return PlugsOut(devices=[PlugOut.of(view) for view in await tapo.devices()])


@router.post("/devices", status_code=status.HTTP_201_CREATED)
async def add_plug(
    body: AddPlugIn, tapo: TapoDep, user: AdminUser, response: Response
) -> PlugAddedOut:
    """Connect to the plug at ``host`` (``port`` for emulators); a known MAC updates its plug."""
    view, created = await tapo.add(PlugAddress.checked(body.host, body.port))
    if not created:
        response.status_code = status.HTTP_200_OK
    return PlugAddedOut(**PlugOut.of(view).model_dump(), created=created)


@router.post("/devices/discover")
async def discover_plugs(
    tapo: TapoDep, user: AdminUser, body: DiscoverIn | None = None
) -> DiscoveryOut:
    options = body or DiscoverIn()
    found = await tapo.discover(options.target, wait_s=options.timeout_s)
    return DiscoveryOut(found=[DiscoveredOut.of(entry) for entry in found])


@router.get("/devices/{device_id}")
async def get_plug(device_id: RowId, tapo: TapoDep, user: CurrentUser) -> PlugOut:
    return PlugOut.of(await tapo.device(device_id))


@router.put("/devices/{device_id}")
async def update_plug(
    device_id: RowId, body: UpdatePlugIn, tapo: TapoDep, user: AdminUser
) -> PlugOut:
    return PlugOut.of(await tapo.change(device_id, body.to_changes()))


@router.delete("/devices/{device_id}")
async def delete_plug(device_id: RowId, tapo: TapoDep, user: AdminUser) -> PlugDeletedOut:
    await tapo.remove(device_id)
    return PlugDeletedOut(deleted=device_id)


@router.post("/devices/{device_id}/toggle")
async def toggle_plug(
    device_id: RowId,
    tapo: TapoDep,
    user: AdminUser,
    force: bool = False,
    body: ToggleIn | None = None,
) -> PlugOut:
    """Switch over (or to ``on``); ``force`` (query or body) may cut the NAS while it is awake."""
    options = body or ToggleIn()
    view = await tapo.switch(device_id, on=options.on, force=force or options.force)
    return PlugOut.of(view)
