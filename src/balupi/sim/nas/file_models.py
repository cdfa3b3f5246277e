"""The bodies of BaluHost's file routes (docs/compat/nas-api.md §3), as the emulator answers them.

Apart from ``files.py`` so that its routes, whose order is observable, read without the shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel


class FileItem(BaseModel):
    """BaluHost's ``FileItem``; every field is always present, unset ones as ``null``."""

    name: str
    path: str
    size: int
    type: Literal["file", "directory"]
    modified_at: datetime
    owner_id: str | None = None
    owner_name: str | None = None
    mime_type: str | None = None
    file_id: int | None = None
    checksum: str | None = None
    sync_info: list[dict[str, Any]] | None = None
    can_read: bool | None = None
    can_write: bool | None = None
    can_delete: bool | None = None


class FileListResponse(BaseModel):
    files: list[FileItem]


class MessageResponse(BaseModel):
    message: str


class UploadResponse(MessageResponse):
    uploaded: int
    upload_ids: list[str] | None = None


class PathRequest(BaseModel):
    path: str


class FolderRequest(BaseModel):
    path: str | None = ""
    name: str


class RenameRequest(BaseModel):
    old_path: str
    new_name: str


class MoveRequest(BaseModel):
    source_path: str
    target_path: str
