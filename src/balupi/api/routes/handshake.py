"""``/api/handshake/*``: the NAS's signed lifecycle notices, and what the Pi knows from them.

The two POSTs are called by the NAS itself, signed with ``NAS_HANDSHAKE_SECRET``
(docs/compat/nas-api.md §5.1); they carry no user token. Every refusal is ``401 {"detail": …}`` (413
for an oversized body, 422 for a signed body nested too deep to keep, 503 while no secret is
configured, so the NAS's log tells the operator what to fix).
The answers carry what the real NAS logs: ``inbox_flushed`` / ``files_transferred`` and
``dns_switched``, honestly false and 0 because BaluPi has no inbox and switches no DNS.

``status`` and ``snapshot`` are what the NAS web client's Pi build reads; they need a user's
token, as on the upstream Pi (the snapshot lists the NAS's user names).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from balupi.api.deps import CurrentUser, NoticesDep
from balupi.api.params import content_length
from balupi.api.schemas.handshake import (
    ComingOnlinePublic,
    GoingOfflinePublic,
    HandshakeStatusPublic,
)
from balupi.services.nas.notices import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    LifecycleNotices,
    NoticeKind,
    NoticeReceipt,
)

router = APIRouter(prefix="/api/handshake", tags=["handshake"])


@router.post("/nas-coming-online")
async def nas_coming_online(request: Request, notices: NoticesDep) -> ComingOnlinePublic:
    receipt = await _receive(request, notices, NoticeKind.COMING_ONLINE)
    return ComingOnlinePublic(
        acknowledged=True,
        nas_state=receipt.nas_state,
        inbox_flushed=False,
        files_transferred=0,
        dns_switched=False,
    )


@router.post("/nas-going-offline")
async def nas_going_offline(request: Request, notices: NoticesDep) -> GoingOfflinePublic:
    receipt = await _receive(request, notices, NoticeKind.GOING_OFFLINE)
    return GoingOfflinePublic(
        acknowledged=True,
        nas_state=receipt.nas_state,
        snapshot_stored=receipt.snapshot_stored,
        dns_switched=False,
    )


@router.get("/status")
async def handshake_status(notices: NoticesDep, user: CurrentUser) -> HandshakeStatusPublic:
    return HandshakeStatusPublic.model_validate(notices.status().as_dict())


@router.get("/snapshot")
async def handshake_snapshot(notices: NoticesDep, user: CurrentUser) -> dict[str, Any]:
    stored = notices.snapshot
    if stored is None:
        raise HTTPException(404, "No snapshot received from the NAS yet")
    return stored.snapshot


async def _receive(request: Request, notices: LifecycleNotices, kind: NoticeKind) -> NoticeReceipt:
    """The notice checked and applied; a refusal is its error, answered by the error boundary
    (503 without a secret, 413, 401, 422: ``{"detail": …}``, as the NAS's log shows it)."""
    return await notices.receive(
        kind,
        method=request.method,
        path=request.url.path,
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        body=request.stream(),
        declared_length=content_length(request),
    )
