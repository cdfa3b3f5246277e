"""``/api/files`` listing and mutations, as BaluHost serves them and as the clients spell them.

The behaviour lives in ``services/files`` (listing.py, mutations.py); this module parses the
clients' requests and shapes the answers. A listing carries ``X-BaluPi-Source: nas|cache``, and
one from the cache also ``X-BaluPi-Listed-At`` and ``X-BaluPi-Age`` (seconds), so staleness is
visible. Mutations answer the NAS's ``{"message": …}`` (JSON, never 204 or 3xx).

Included before the pass-through and after any router with more specific ``/api/files/...``
paths (uploads, downloads): ``DELETE /api/files/{path}`` matches every path below ``/api/files``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Self

import anyio.to_thread
from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, model_validator

from balupi.api.deps import ClockDep, CurrentUser, FilesDep
from balupi.api.params import RowId
from balupi.api.schemas.files import FileMessagePublic, ListingPublic
from balupi.clock import utc_iso
from balupi.services.auth import ForwardedAnswer
from balupi.services.files.model import Listing, ListingOrigin, MutationResult

router = APIRouter(prefix="/api/files", tags=["files"])

SyncTrigger = Annotated[str | None, Header(alias="X-Sync-Trigger")]
# Rendering a listing this long (a folder of thousands of photos) goes to a worker thread.
LARGE_LISTING = 500


class PathBody(BaseModel):
    path: str


class FolderBody(BaseModel):
    """``{path, name}``; BaluDesk's ``mount_id`` is ignored like the NAS ignores it."""

    path: str | None = ""
    name: str


class RenameBody(BaseModel):
    """``{old_path, new_name}``; BaluApp declares ``path``, BaluDesk sends ``file_id``."""

    old_path: str | None = None
    path: str | None = None
    file_id: RowId | None = None
    new_name: str

    @model_validator(mode="after")
    def _names_a_file(self) -> Self:
        if self.old_path is None and self.path is None and self.file_id is None:
            raise ValueError("old_path (or path, or file_id) is required")
        return self


class MoveBody(BaseModel):
    """``{source_path, target_path}``; BaluApp sends ``destination_path``, BaluDesk
    ``{file_id, new_path}``."""

    source_path: str | None = None
    file_id: RowId | None = None
    target_path: str | None = None
    destination_path: str | None = None
    new_path: str | None = None

    @model_validator(mode="after")
    def _names_both_ends(self) -> Self:
        if self.source_path is None and self.file_id is None:
            raise ValueError("source_path (or file_id) is required")
        if self.target is None:
            raise ValueError("target_path (or destination_path) is required")
        return self

    @property
    def target(self) -> str | None:
        return next(
            (p for p in (self.target_path, self.destination_path, self.new_path) if p is not None),
            None,
        )


# -- listing ---------------------------------------------------------------------------------
@router.get("/list", response_model=ListingPublic)
async def list_files(
    user: CurrentUser, files: FilesDep, clock: ClockDep, trigger: SyncTrigger = None, path: str = ""
) -> Response:
    """The folder's ``{"files": [FileItem…]}``; ``mount`` (BaluDesk) is ignored."""
    outcome = await files.listing.list_folder(path, user, trigger=trigger)
    if isinstance(outcome, ForwardedAnswer):
        return _nas_answer(outcome)
    headers = {**outcome.headers, **_staleness(outcome, clock.now())}
    body = {"files": outcome.items}
    if len(outcome.items) >= LARGE_LISTING:
        content = await anyio.to_thread.run_sync(_render_json, body)
        return Response(content, media_type="application/json", headers=headers)
    return JSONResponse(body, headers=headers)


def _staleness(listing: Listing, now: datetime) -> dict[str, str]:
    headers = {"X-BaluPi-Source": listing.origin.value}
    if listing.origin is ListingOrigin.CACHE and listing.listed_at is not None:
        age = max((now - listing.listed_at).total_seconds(), 0.0)
        headers["X-BaluPi-Listed-At"] = utc_iso(listing.listed_at)
        headers["X-BaluPi-Age"] = str(int(age))
    return headers


def _render_json(body: dict[str, Any]) -> bytes:
    # Starlette's JSONResponse rendering, as the NAS's FastAPI sends it.
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


# -- mutations -------------------------------------------------------------------------------
@router.post("/delete", response_model=FileMessagePublic)
async def delete_by_post(
    body: PathBody, user: CurrentUser, files: FilesDep, trigger: SyncTrigger = None
) -> Response:
    return _answer(await files.mutations.delete(body.path, user, trigger=trigger))


@router.delete("/delete", response_model=FileMessagePublic)
async def delete_by_body(
    body: PathBody, user: CurrentUser, files: FilesDep, trigger: SyncTrigger = None
) -> Response:
    return _answer(await files.mutations.delete(body.path, user, trigger=trigger))


@router.delete("", response_model=FileMessagePublic)
@router.delete("/", response_model=FileMessagePublic)
async def delete_by_query(
    user: CurrentUser, files: FilesDep, trigger: SyncTrigger = None, path: str | None = None
) -> Response:
    """BaluDesk's ``DELETE /api/files?path=``: done here, no 307 (docs/compat/clients.md §4 D1)."""
    return _answer(await files.mutations.delete(path, user, trigger=trigger))


@router.delete("/raw/{path:path}", response_model=FileMessagePublic)
async def delete_raw(
    path: str, user: CurrentUser, files: FilesDep, trigger: SyncTrigger = None
) -> Response:
    return _answer(await files.mutations.delete(path, user, trigger=trigger))


@router.post("/folder", response_model=FileMessagePublic)
async def create_folder(
    body: FolderBody, user: CurrentUser, files: FilesDep, trigger: SyncTrigger = None
) -> Response:
    mutations = files.mutations
    return _answer(await mutations.create_folder(body.path, body.name, user, trigger=trigger))


@router.post("/mkdir", response_model=FileMessagePublic)
async def make_directory(
    body: PathBody, user: CurrentUser, files: FilesDep, trigger: SyncTrigger = None
) -> Response:
    return _answer(await files.mutations.make_directory(body.path, user, trigger=trigger))


@router.put("/rename", response_model=FileMessagePublic)
async def rename(
    body: RenameBody, user: CurrentUser, files: FilesDep, trigger: SyncTrigger = None
) -> Response:
    result = await files.mutations.rename(
        path=body.old_path if body.old_path is not None else body.path,
        file_id=body.file_id,
        new_name=body.new_name,
        user=user,
        trigger=trigger,
    )
    return _answer(result)


@router.put("/move", response_model=FileMessagePublic)
async def move(
    body: MoveBody, user: CurrentUser, files: FilesDep, trigger: SyncTrigger = None
) -> Response:
    result = await files.mutations.move(
        source=body.source_path,
        file_id=body.file_id,
        target=body.target,
        user=user,
        trigger=trigger,
    )
    return _answer(result)


# Last: like the NAS's catch-all delete, this matches every path below /api/files.
@router.delete("/{path:path}", response_model=FileMessagePublic)
async def delete_by_path(
    path: str, user: CurrentUser, files: FilesDep, trigger: SyncTrigger = None
) -> Response:
    """A path, or BaluDesk's numeric ``file_id`` (``MutationService.delete_path_or_id``)."""
    mutations = files.mutations
    return _answer(await mutations.delete_path_or_id(path, user, trigger=trigger))


def _answer(result: MutationResult) -> Response:
    if isinstance(result, ForwardedAnswer):
        return _nas_answer(result)
    return JSONResponse(result)


def _nas_answer(answer: ForwardedAnswer) -> Response:
    return Response(answer.content, answer.status_code, headers=answer.headers)
