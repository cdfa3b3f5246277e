"""The files service's vocabulary: listings, mutations, and the refusals only the Pi makes.

Everything here is plain data, imported by the rest of ``services/files`` and by whoever plugs
into it (the overlay of pending uploads, the offline mutation queue, the file cache), and it
depends on nothing else in the package.

A listing's items are BaluHost ``FileItem`` JSON objects (docs/compat/nas-api.md §3.2). Items the
NAS sent are kept as the NAS sent them, unknown fields included; items the Pi builds from its
metadata cache have exactly the NAS's fields (``items.render``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from balupi.errors import FileError
from balupi.services.auth import ForwardedAnswer

JsonObject = dict[str, Any]


class ListingOrigin(enum.StrEnum):
    """Where a listing came from; sent to clients as ``X-BaluPi-Source``."""

    NAS = "nas"  # the NAS answered just now
    CACHE = "cache"  # the Pi answered from what the NAS listed earlier


@dataclass(frozen=True)
class Listing:
    """One folder's items in the NAS's order: directories first, then by lower-cased name.

    ``listed_at`` is when the NAS last listed the folder (None for a folder only the Pi knows
    of, such as one created while the NAS slept); ``headers`` are NAS headers worth passing on
    (its rate-limit headers) when the NAS answered.
    """

    path: str
    items: list[JsonObject]
    origin: ListingOrigin
    listed_at: datetime | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delete:
    """Delete ``path`` (recursively for a folder)."""

    path: str
    file_id: int | None = None  # set when the client named the file by id (BaluDesk explorer)


@dataclass(frozen=True)
class CreateFolder:
    """Create folder ``name`` in ``parent`` (missing parents too); idempotent on the NAS."""

    parent: str
    name: str


@dataclass(frozen=True)
class Rename:
    """Rename ``path`` to ``target`` (``new_name`` in the same folder); ids are kept."""

    path: str
    new_name: str
    target: str
    file_id: int | None = None


@dataclass(frozen=True)
class Move:
    """Move ``source`` to ``target``: into it when it is an existing folder, else to that path."""

    source: str
    target: str
    file_id: int | None = None


Mutation = Delete | CreateFolder | Rename | Move

# The NAS's answer as it is, or a JSON body (200) the Pi composed, e.g. for a queued mutation.
MutationResult = ForwardedAnswer | JsonObject


class EmptyPath(FileError):
    """A delete, rename or move of the storage root: never forwarded.

    Such a request would empty the NAS (docs/compat/nas-api.md §3.6, §8).

    On the NAS ``DELETE /api/files?path=x`` reaches the catch-all as an empty path after the
    trailing-slash 307, which for an admin starts a recursive delete of the whole storage.
    """

    code = "empty_path"
    status_code = 400

    def __init__(self, verb: str = "delete") -> None:
        super().__init__(
            f"A {verb} without a path is not forwarded: on the NAS it acts on the whole "
            "storage. Name the file or folder, e.g. DELETE /api/files/{path}."
        )


class FolderNameRequired(FileError):
    """BaluHost's own 400 for ``POST /api/files/folder`` without a name."""

    code = "folder_name_required"
    status_code = 400

    def __init__(self) -> None:
        super().__init__("Folder name required")


class UnknownFileId(FileError):
    """A ``file_id`` the Pi cannot map to a path (or whose path now holds another file)."""

    code = "unknown_file_id"
    status_code = 404

    def __init__(self) -> None:
        super().__init__("File not found")
