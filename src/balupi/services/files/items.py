"""BaluHost's ``FileItem``: read from a NAS listing, stored as a row, rendered back the same.

The NAS's listing is the contract the clients parse strictly (docs/compat/clients.md §0.11, §6.3):
no null in ``name``, ``path``, ``type``, ``size`` or ``modified_at``; ``modified_at`` ISO-8601 UTC
with ``Z`` (microseconds when there are any, as pydantic writes them); ``owner_id`` a string; items
sorted directories first, then by lower-cased name. An item rendered from the metadata cache
has the NAS's fields in the NAS's order, so a folder answered from the cache looks exactly like
the NAS's answer. The per-share fields (``sync_info``, ``can_*``) are not kept and come back
``null``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from balupi.clock import utc_iso
from balupi.db.models import FileMetadata
from balupi.services.files.model import JsonObject
from balupi.services.files.paths import parent_of

FILE = "file"
DIRECTORY = "directory"
# Decoding a listing this large (a folder of thousands of photos) goes to a worker thread.
LARGE_JSON_BYTES = 256 * 1024


@dataclass(frozen=True)
class NasEntry:
    """The fields of one NAS ``FileItem`` the metadata cache keeps."""

    path: str
    name: str
    is_directory: bool
    size: int
    mtime: datetime
    checksum: str | None
    file_id: int | None
    owner_id: str | None
    owner_name: str | None
    mime_type: str | None

    @property
    def parent_path(self) -> str:
        return parent_of(self.path)

    @classmethod
    def parse(cls, item: object) -> NasEntry | None:
        """The entry of a NAS item, or None for an item the Pi cannot keep (it still passes)."""
        if not isinstance(item, dict):
            return None
        name, path, kind = item.get("name"), item.get("path"), item.get("type")
        size = _int_or_none(item.get("size"))
        mtime = parse_time(item.get("modified_at"))
        if (
            not isinstance(name, str)
            or not isinstance(path, str)
            or not path
            or kind not in (FILE, DIRECTORY)
            or size is None
            or mtime is None
        ):
            return None
        owner_id = item.get("owner_id")
        return cls(
            path=path,
            name=name,
            is_directory=kind == DIRECTORY,
            size=size,
            mtime=mtime,
            checksum=_str_or_none(item.get("checksum")),
            file_id=_int_or_none(item.get("file_id")),
            owner_id=str(owner_id) if owner_id is not None else None,
            owner_name=_str_or_none(item.get("owner_name")),
            mime_type=_str_or_none(item.get("mime_type")),
        )


def render(row: FileMetadata) -> JsonObject:
    """The NAS's ``FileItem`` for a cached row (``modified_at`` falls back to ``listed_at``)."""
    return {
        "name": row.name,
        "path": row.path,
        "size": row.size,
        "type": DIRECTORY if row.is_directory else FILE,
        "modified_at": utc_iso(row.mtime or row.listed_at),
        "owner_id": row.owner_id,
        "owner_name": row.owner_name,
        "mime_type": row.mime_type,
        "file_id": row.file_id,
        "checksum": row.checksum,
        "sync_info": None,
        "can_read": None,
        "can_write": None,
        "can_delete": None,
    }


def virtual_folder(path: str, modified_at: datetime, owner_id: str | None) -> JsonObject:
    """An entry of a normal user's virtual root as the NAS builds it: size 0, no file id."""
    return {
        "name": path,
        "path": path,
        "size": 0,
        "type": DIRECTORY,
        "modified_at": utc_iso(modified_at),
        "owner_id": owner_id,
        "owner_name": None,
        "mime_type": None,
        "file_id": None,
        "checksum": None,
        "sync_info": None,
        "can_read": None,
        "can_write": None,
        "can_delete": None,
    }


def sort_key(item: JsonObject) -> tuple[bool, str]:
    """BaluHost's order: directories first, then by ``name.lower()`` (not casefold)."""
    return item.get("type") != DIRECTORY, str(item.get("name", "")).lower()


def sorted_items(items: Iterable[JsonObject]) -> list[JsonObject]:
    """``items`` in the NAS's order; stable, so a list the NAS sorted keeps its exact order."""
    return sorted(items, key=sort_key)


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime (a value without a zone is UTC)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


async def decode_json(content: bytes) -> Any:
    """``content`` parsed as JSON; large bodies are parsed off the event loop. ValueError if
    it is not JSON."""
    if len(content) >= LARGE_JSON_BYTES:
        return await anyio.to_thread.run_sync(json.loads, content)
    return json.loads(content)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
