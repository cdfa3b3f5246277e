"""``POST /api/files/upload``: BaluHost's upload, accepted at once and synced to the NAS later;
and what to do with a change the NAS refused for good (parked): retry it, or discard it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request

from balupi.api.deps import CurrentUser, UploadDeskDep
from balupi.api.params import RowId, content_length
from balupi.api.schemas.uploads import MessagePublic, UploadedPublic

router = APIRouter(prefix="/api/files", tags=["files"])

NO_PARKED_CHANGE = "No refused change with that id"


@router.post("/upload")
async def upload(
    request: Request,
    user: CurrentUser,
    desk: UploadDeskDep,
    path: str | None = Query(default=None, description="BaluDesk explorer's full target path"),
) -> UploadedPublic:
    """Multipart ``file`` or repeated ``files`` plus form ``path`` (a folder, or the full file
    path by BaluHost's dot heuristic). 200 only once every file is durable on the Pi."""
    content_type = request.headers.get("content-type")
    length = content_length(request)
    ids = await desk.ingest(user, content_type, length, request.stream(), path)
    return UploadedPublic(message="Files uploaded", uploaded=len(ids), upload_ids=ids)


@router.post("/sync/parked/{entry_id}/retry")
async def retry_parked(entry_id: RowId, user: CurrentUser, desk: UploadDeskDep) -> MessagePublic:
    """Send a refused change again (after fixing its cause on the NAS); its owner or an admin."""
    if not await desk.settle_parked(entry_id, user, retry=True):
        raise HTTPException(status_code=404, detail=NO_PARKED_CHANGE)
    return MessagePublic(message="Queued again")


@router.post("/sync/parked/{entry_id}/discard")
async def discard_parked(entry_id: RowId, user: CurrentUser, desk: UploadDeskDep) -> MessagePublic:
    """Give up a refused change; a refused upload's bytes on the Pi are deleted with it."""
    if not await desk.settle_parked(entry_id, user, retry=False):
        raise HTTPException(status_code=404, detail=NO_PARKED_CHANGE)
    return MessagePublic(message="Discarded")
