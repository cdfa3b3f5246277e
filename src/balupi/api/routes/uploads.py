"""``POST /api/files/upload``: BaluHost's upload, accepted at once and synced to the NAS later."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from balupi.api.deps import CurrentUser, ServicesDep

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
