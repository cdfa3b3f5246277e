"""What the cache needs to know from elsewhere: who may see what, and what the NAS listed.

Both are protocols; the files service (``services/files``) provides them: ``FileAccess`` is a
``ViewerSource`` (with the shares the NAS listed for each user), and ``ListedFiles`` adapts
``MetadataStore.entry`` (the listing cache it fills from every NAS listing it forwards). The
defaults work without it: ``JailViewers`` applies only the rules the Pi can check alone (admins
see all, users see ``Shared`` and their home), so shares are not served from the cache while the
NAS sleeps (403, the safe side) and go to the NAS, which decides, while it is awake;
``NoListings`` makes every revalidation ask the NAS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from balupi.db.models import FileMetadata
from balupi.services.auth import AuthenticatedUser
from balupi.services.files.paths import Viewer


@dataclass(frozen=True)
class RemoteFile:
    """A file as the NAS last listed it (docs/compat/nas-api.md §3.2 ``FileItem``)."""

    size: int
    mtime: datetime | None
    checksum: str | None  # SHA-256 hex of the content, when the NAS has one
    listed_at: datetime


class ListingSource(Protocol):
    async def known(self, path: str) -> RemoteFile | None:
        """What the NAS last listed at ``path`` (no NAS request), or None."""
        ...


class ViewerSource(Protocol):
    async def viewer_for(self, user: AuthenticatedUser) -> Viewer:
        """``user`` as the visibility rules need them, with the shares the NAS granted."""
        ...


class JailViewers:
    """The rules the Pi can apply alone: no shares (see the module docstring)."""

    async def viewer_for(self, user: AuthenticatedUser) -> Viewer:
        return Viewer(user.username, user.is_admin)


class NoListings:
    """No listing to consult: every due entry is checked with the NAS itself."""

    async def known(self, path: str) -> RemoteFile | None:
        return None


class ListedFiles:
    """Listings as the listing service keeps them (``MetadataStore.entry``)."""

    def __init__(self, entry: Callable[[str], Awaitable[FileMetadata | None]]) -> None:
        self._entry = entry

    async def known(self, path: str) -> RemoteFile | None:
        row = await self._entry(path)
        if row is None or row.is_directory:
            return None
        return RemoteFile(row.size, row.mtime, row.checksum, row.listed_at)
