"""``POST /api/files/upload``: BaluHost's upload, accepted at once and synced to the NAS later;
and what to do with a change the NAS refused for good (parked): retry it, or discard it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from balupi.api.deps import CurrentUser, ServicesDep
from balupi.api.params import RowId

router = APIRouter(prefix="/api/files", tags=["files"])


@router.post("/upload")
async def upload(
    request: Request,
    user: CurrentUser,
    services: ServicesDep,
    path: str | None = Query(default=None, description="BaluDesk explorer's full target path"),
) -> dict[str, Any]:
    """Multipart ``file`` or repeated ``files`` plus form ``path`` (a folder, or the full file
    path by BaluHost's dot heuristic). 200 only once every file is durable on the Pi."""
    length = request.headers.get("content-length")
    result = await services.uploads.ingest.ingest_multipart(
        user_id=user.id,
        username=user.username,
        viewer=await services.files.viewer_for(user),
        content_type=request.headers.get("content-type"),
        content_length=int(length) if length and length.isdigit() else None,
        body=request.stream(),
        query_path=path,
    )
    await services.uploads.accepted(user.id, user.token)
    return {
        "message": "Files uploaded",
        "uploaded": len(result.upload_ids),
        "upload_ids": result.upload_ids,
    }


async def _settle(entry_id: int, user: CurrentUser, services: ServicesDep, *, retry: bool) -> None:
    uploads = services.uploads
    owner = None if user.is_admin else user.id
    found, released = await uploads.queue.settle_parked(entry_id, owner, retry=retry)
    if not found:
        raise HTTPException(status_code=404, detail="No refused change with that id")
    if released is not None:
        await uploads.copies.release([released])
    if retry:
        await uploads.accepted(user.id, user.token)


@router.post("/sync/parked/{entry_id}/retry")
async def retry_parked(entry_id: RowId, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    """Send a refused change again (after fixing its cause on the NAS); its owner or an admin."""
    await _settle(entry_id, user, services, retry=True)
    return {"message": "Queued again"}


@router.post("/sync/parked/{entry_id}/discard")
async def discard_parked(
    entry_id: RowId, user: CurrentUser, services: ServicesDep
) -> dict[str, Any]:
    """Give up a refused change; a refused upload's bytes on the Pi are deleted with it."""
    await _settle(entry_id, user, services, retry=False)
    return {"message": "Discarded"}
