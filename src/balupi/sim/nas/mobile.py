"""Emulated BaluHost routes for BaluApp's folder sync and BaluDesk's folder reports.

Faithful to docs/compat/nas-api.md §4.1 and §4.2.

Folder configs per device (``GET``/``POST /api/mobile/sync/folders/{device_id}`` — a bare JSON
array), their update (``PUT /api/mobile/sync/folders/{folder_id}``: status ``idle`` moves
``last_sync`` forward, which is what ends a BaluApp sync run) and ``report-folders``.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from balupi.services.uploads.folder_report import FolderReport
from balupi.sim.nas.deps import CurrentUser, State
from balupi.sim.nas.timestamps import iso_z

router = APIRouter(prefix="/api")


class FolderConfig(BaseModel):
    local_path: str
    remote_path: str
    sync_type: str = "upload"
    auto_sync: bool = True


class FolderUpdate(BaseModel):
    status: str | None = None
    remote_path: str | None = None
    sync_type: str | None = None
    auto_sync: bool | None = None


@router.get("/mobile/sync/folders/{device_id}")
def list_folders(device_id: str, user: CurrentUser, state: State) -> list[dict[str, Any]]:
    with state.lock:
        return [dict(f) for f in state.mobile_folders.values() if f["device_id"] == device_id]


@router.post("/mobile/sync/folders/{device_id}")
def add_folder(
    device_id: str, body: FolderConfig, user: CurrentUser, state: State
) -> dict[str, Any]:
    folder = {
        "id": str(uuid.uuid4()),
        "device_id": device_id,
        **body.model_dump(),
        "last_sync": None,
        "status": "idle",
        "created_at": iso_z(state.clock()),
    }
    with state.lock:
        state.mobile_folders[folder["id"]] = folder
    return dict(folder)


@router.put("/mobile/sync/folders/{folder_id}")
def update_folder(
    folder_id: str, body: FolderUpdate, user: CurrentUser, state: State
) -> dict[str, Any]:
    with state.lock:
        folder = state.mobile_folders.get(folder_id)
        if folder is None:
            raise HTTPException(status_code=404, detail="Sync folder not found")
        folder.update(body.model_dump(exclude_none=True))
        if body.status == "idle":
            folder["last_sync"] = iso_z(state.clock())
        return dict(folder)


@router.post("/sync/report-folders")
def report_folders(body: FolderReport, user: CurrentUser, state: State) -> dict[str, Any]:
    with state.lock:
        state.reported_folders[body.device_id] = [f.remote_path for f in body.folders]
    return {"accepted": len(body.folders), "deactivated": 0}
