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
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError, field_validator

from balupi.api.deps import AdminUser, CurrentUser, SyncDeskDep, UploadsDep
from balupi.api.routes.passthrough import NasStreamResponse, PassThroughDep, forward_request
from balupi.api.schemas.sync import (
    ChangesPublic,
    ConflictPublic,
    ConflictsPublic,
    FolderReportPublic,
    MobileFoldersPublic,
    PoliciesPublic,
    PreflightPublic,
    RegistrationPublic,
    SyncStatusPublic,
)
from balupi.services.uploads.conflicts import ConflictPolicy, Resolution
from balupi.services.uploads.desk import NasFolders
from balupi.services.uploads.folder_report import FolderReport

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


async def _forward(request: Request, passthrough: PassThroughDep) -> Response:
    return NasStreamResponse(await passthrough.open(forward_request(request)))


@router.get("/api/sync/preflight")
async def preflight(user: CurrentUser) -> PreflightPublic:
    return PreflightPublic(
        sync_allowed=True,
        current_sleep_state="awake",
        sleep_schedule=None,
        next_sleep_at=None,
        next_wake_at=None,
        block_reason=None,
    )


@router.post("/api/sync/changes")
async def changes(user: CurrentUser) -> ChangesPublic:
    return ChangesPublic(to_download=[], to_delete=[], conflicts=[], change_token=str(uuid.uuid4()))


async def _pi_answers_asleep(
    request: Request,
    desk: SyncDeskDep,
    passthrough: PassThroughDep,
    adapter: TypeAdapter[T],
    answer: Callable[[T], BaseModel],
) -> Response:
    """Forwarded while the NAS is awake; else the body, read as ``adapter`` reads it (422
    otherwise), is answered by the Pi with ``answer``."""
    if desk.nas_awake():
        return await _forward(request, passthrough)
    return JSONResponse(answer(await _parse(request, adapter)).model_dump())


def _registered(body: DesktopRegistration) -> RegistrationPublic:
    return RegistrationPublic(
        device_id=body.device_id,
        device_name=body.device_name,
        status="registered",
        change_token=None,
    )


def _reported(body: FolderReport) -> FolderReportPublic:
    return FolderReportPublic(accepted=len(body.folders), deactivated=0)


@router.post("/api/sync/register-desktop", response_model=RegistrationPublic)
async def register_desktop(
    request: Request, user: CurrentUser, desk: SyncDeskDep, passthrough: PassThroughDep
) -> Response:
    return await _pi_answers_asleep(request, desk, passthrough, _REGISTRATION, _registered)


@router.post("/api/sync/report-folders", response_model=FolderReportPublic)
async def report_folders(
    request: Request, user: CurrentUser, desk: SyncDeskDep, passthrough: PassThroughDep
) -> Response:
    return await _pi_answers_asleep(request, desk, passthrough, _REPORT, _reported)


@router.get("/api/mobile/sync/folders/{device_id}", response_model=MobileFoldersPublic)
async def mobile_folders(device_id: str, user: CurrentUser, desk: SyncDeskDep) -> Response:
    """The NAS's answer while it is awake, else the Pi's copy; another user's device is "not
    found", as an unknown one (BaluHost's answer for a device)."""
    folders = await desk.mobile_folders(device_id, user)
    if folders is None:
        raise HTTPException(status_code=404, detail="Device not found")
    if isinstance(folders, NasFolders):
        return Response(folders.content, folders.status_code, media_type="application/json")
    return JSONResponse(folders)


@router.put("/api/mobile/sync/folders/{folder_id}", response_model=dict[str, Any])
async def update_mobile_folder(
    folder_id: str,
    request: Request,
    user: CurrentUser,
    desk: SyncDeskDep,
    passthrough: PassThroughDep,
) -> Response:
    if await desk.folder_hidden(folder_id, user):
        raise HTTPException(status_code=404, detail="Folder not found")
    if desk.nas_awake():
        return await _forward(request, passthrough)
    changes = await _parse(request, _FOLDER_CHANGES)
    folder = await desk.update_folder_offline(folder_id, changes, user)
    if folder is None:
        raise HTTPException(status_code=404, detail="Folder not found")
    return JSONResponse(folder)


@router.get("/api/files/sync/status")
async def files_sync_status(user: CurrentUser, desk: SyncDeskDep) -> SyncStatusPublic:
    """Counts for the whole queue; the entries listed are the caller's own (admins: all)."""
    return SyncStatusPublic.model_validate(await desk.status(user))


@router.get("/api/sync/conflicts")
async def conflicts(
    user: CurrentUser, desk: SyncDeskDep, open_only: bool = False
) -> ConflictsPublic:
    return ConflictsPublic.model_validate({"conflicts": await desk.conflicts(user, open_only)})


class ResolveBody(BaseModel):
    resolution: Resolution


@router.post("/api/sync/conflicts/{conflict_id}/resolve")
async def resolve(
    conflict_id: int, body: ResolveBody, user: CurrentUser, desk: SyncDeskDep
) -> ConflictPublic:
    """Decide the caller's open conflict; another's, or none, is 404 ``ConflictNotFound``."""
    return ConflictPublic.model_validate(await desk.resolve(conflict_id, body.resolution, user))


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
async def policies(user: CurrentUser, uploads: UploadsDep) -> PoliciesPublic:
    current = await uploads.policies.all()
    return PoliciesPublic(default=ConflictPolicy.SERVER_WINS.value, folders=current)


@router.put("/api/sync/policies")
async def set_policy(body: PolicyBody, user: AdminUser, uploads: UploadsDep) -> PoliciesPublic:
    current = await uploads.policies.set(body.folder, body.policy)
    return PoliciesPublic(default=ConflictPolicy.SERVER_WINS.value, folders=current)
