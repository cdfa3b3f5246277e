"""``/api/files`` answers, BaluHost's (docs/compat/nas-api.md §3.2, §3.6).

They document the answers: the routes send the NAS's bytes as they came, or the Pi's own body
in the NAS's shape, without re-validating it (a listing of thousands of items is rendered once,
in a worker thread; a relayed item may carry fields the NAS adds later).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class FileItemPublic(BaseModel):
    """One entry of a folder, as the NAS lists it."""

    model_config = ConfigDict(extra="allow")

    name: str
    path: str
    size: int
    type: str  # "file" or "directory"
    modified_at: str | None
    owner_id: str | None
    owner_name: str | None
    mime_type: str | None
    file_id: int | None
    checksum: str | None
    sync_info: list[Any] | None
    can_read: bool | None
    can_write: bool | None
    can_delete: bool | None


class ListingPublic(BaseModel):
    files: list[FileItemPublic]


class FileMessagePublic(BaseModel):
    """A mutation's answer: ``Deleted``, ``Folder created``, ``Renamed``, ``Moved`` …"""

    message: str
