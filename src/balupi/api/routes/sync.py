"""Clients' sync calls (docs/compat/clients.md §6), the Pi's sync status, conflicts, policies.

- BaluDesk ``POST /api/sync/changes`` always gets the safe push-only answer (empty lists and a
  fresh ``change_token``): the NAS's own answer names files for the client to delete
  (docs/compat/clients.md §4 D6).
- ``register-desktop`` and ``report-folders`` go to the NAS while it is awake and are answered
  by the Pi while it sleeps (the NAS learns of a folder at the next report, every 30 s).
- BaluApp's folder configs are served from the Pi's copy while the NAS sleeps; an update is
  applied at once and forwarded later (``MobileFolders``). A user sees and changes only the
  copies of their own devices (admins: all); another user's device is "not found".
- Conflicts belong to the user whose change met the NAS's version: others get 404 (admins: all).
- A body the Pi reads itself (rather than forwards) is validated as FastAPI would: 422.
- ``GET /api/sync/preflight`` says "go": the Pi takes uploads whatever the NAS is doing.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError, field_validator

from balupi.api.deps import AdminUser, CurrentUser, ServicesDep
from balupi.api.routes.passthrough import NasStreamResponse, forward_request, get_passthrough
from balupi.db.models import NasState
from balupi.services.auth import AuthenticatedUser
from balupi.services.uploads.conflicts import (
    ConflictNotFound,
    ConflictPolicy,
    Resolution,
    conflict_public,
    list_conflicts,
    resolve_conflict,
)
from balupi.services.uploads.folder_report import FolderReport
from balupi.services.uploads.sync_status import sync_status

router = APIRouter(tags=["sync"])
T = TypeVar("T")


class DesktopRegistration(BaseModel):
    device_id: str
    device_name: str | None = None


_REGISTRATION = TypeAdapter(DesktopRegistration)
_REPORT = TypeAdapter(FolderReport)
_FOLDER_CHANGES = TypeAdapter(dict[str, Any])


async def _parse(request: Request, adapter: TypeAdapter[T]) -> T:
    """The JSON body as ``adapter`` reads it, or 422. Read here, not declared as a parameter, so
    that while the NAS is awake the body is forwarded untouched; pydantic's parser also refuses
    nesting too deep to recurse into, where ``json.loads`` would raise ``RecursionError``."""
    try:
        return adapter.validate_json(await request.body())
    except ValidationError as exc:
        raise HTTPException(
            status_code=422, detail="The request body is not the JSON this call expects"
        ) from exc


def _scope(user: AuthenticatedUser) -> str | None:
    """Whose data ``user`` may see: their own (their id), or everyone's (None) for an admin."""
    return None if user.is_admin else user.id


def _json_array(response: httpx.Response) -> list[Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, list) else None


def _nas_awake(services: ServicesDep) -> bool:
    return services.nas_link.configured and services.nas_link.state is NasState.ONLINE


async def _forward(request: Request, services: ServicesDep) -> Response:
    passthrough = await get_passthrough(services)
    return NasStreamResponse(await passthrough.open(forward_request(request)))


@router.get("/api/sync/preflight")
async def preflight(user: CurrentUser) -> dict[str, Any]:
    return {
        "sync_allowed": True,
        "current_sleep_state": "awake",
        "sleep_schedule": None,
        "next_sleep_at": None,
        "next_wake_at": None,
        "block_reason": None,
    }


@router.post("/api/sync/changes")
async def changes(user: CurrentUser) -> dict[str, Any]:
    return {"to_download": [], "to_delete": [], "conflicts": [], "change_token": str(uuid.uuid4())}


@router.post("/api/sync/register-desktop")
async def register_desktop(request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    if _nas_awake(services):
        return await _forward(request, services)
    body = await _parse(request, _REGISTRATION)
    return JSONResponse(
        {
            "device_id": body.device_id,
            "device_name": body.device_name,
            "status": "registered",
            "change_token": None,
        }
    )


@router.post("/api/sync/report-folders")
async def report_folders(request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    if _nas_awake(services):
        return await _forward(request, services)
    body = await _parse(request, _REPORT)
    return JSONResponse({"accepted": len(body.folders), "deactivated": 0})


@router.get("/api/mobile/sync/folders/{device_id}")
async def mobile_folders(device_id: str, user: CurrentUser, services: ServicesDep) -> Response:
    folders = services.uploads.mobile_folders
    if await folders.owned_by_another(device_id, _scope(user)):
        raise HTTPException(status_code=404, detail="Device not found")
    if _nas_awake(services):
        response = await services.nas_link.client.request(
            "GET",
            f"/api/mobile/sync/folders/{quote(device_id, safe='')}",
            headers={"Authorization": f"Bearer {user.token}"},
        )
        if response.status_code == 200:
            await folders.remember(device_id, _json_array(response), owner=_scope(user))
        elif response.status_code in (403, 404):  # a NAS that scopes devices said "not yours"
            await folders.refused(device_id, user.id)
        return Response(response.content, response.status_code, media_type="application/json")
    copy = await folders.folders(device_id, _scope(user))
    if copy is None:  # unknown, or not the caller's: the same answer (BaluHost's, for a device)
        raise HTTPException(status_code=404, detail="Device not found")
    return JSONResponse(copy)


@router.put("/api/mobile/sync/folders/{folder_id}")
async def update_mobile_folder(
    folder_id: str, request: Request, user: CurrentUser, services: ServicesDep
) -> Response:
    if await services.uploads.mobile_folders.folder_owned_by_another(folder_id, _scope(user)):
        raise HTTPException(status_code=404, detail="Folder not found")
    if _nas_awake(services):
        return await _forward(request, services)
    changes = await _parse(request, _FOLDER_CHANGES)
    folder = await services.uploads.mobile_folders.update_offline(
        user.id, folder_id, changes, scope=_scope(user)
    )
    if folder is None:
        raise HTTPException(status_code=404, detail="Folder not found")
    await services.uploads.accepted(user.id, user.token)
    return JSONResponse(folder)


@router.get("/api/files/sync/status")
async def files_sync_status(user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    """Counts for the whole queue; the entries listed are the caller's own (admins: all)."""
    return await sync_status(
        services.uploads.queue,
        services.sessions,
        services.clock,
        owner_id=_scope(user),
        worker=services.uploads.worker,
    )


@router.get("/api/sync/conflicts")
async def conflicts(
    user: CurrentUser, services: ServicesDep, open_only: bool = False
) -> dict[str, Any]:
    rows = await list_conflicts(services.sessions, owner_id=_scope(user), open_only=open_only)
    return {"conflicts": [conflict_public(row) for row in rows]}


class ResolveBody(BaseModel):
    resolution: Resolution


@router.post("/api/sync/conflicts/{conflict_id}/resolve")
async def resolve(
    conflict_id: int, body: ResolveBody, user: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    try:
        conflict, released = await resolve_conflict(
            services.sessions,
            services.clock,
            conflict_id,
            body.resolution,
            owner_id=_scope(user),
        )
    except ConflictNotFound as exc:
        raise HTTPException(status_code=404, detail="Open conflict not found") from exc
    if released is not None:
        await services.uploads.copies.release([released])
    services.uploads.worker.kick()
    return conflict_public(conflict)


class PolicyBody(BaseModel):
    folder: str
    policy: ConflictPolicy | None  # None removes the folder's policy

    @field_validator("folder")
    @classmethod
    def _encodable(cls, folder: str) -> str:
        """JSON may escape a lone surrogate (``"\\ud800"``) that no UTF-8 file or answer holds."""
        try:
            folder.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("The folder name holds a character UTF-8 cannot store") from None
        return folder


@router.get("/api/sync/policies")
async def policies(user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    current = await services.uploads.policies.all()
    return {"default": ConflictPolicy.SERVER_WINS.value, "folders": current}


@router.put("/api/sync/policies")
async def set_policy(body: PolicyBody, user: AdminUser, services: ServicesDep) -> dict[str, Any]:
    current = await services.uploads.policies.set(body.folder, body.policy)
    return {"default": ConflictPolicy.SERVER_WINS.value, "folders": current}
