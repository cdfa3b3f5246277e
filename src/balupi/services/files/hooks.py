"""Where other parts of BaluPi plug into listings and mutations, each with a do-nothing default.

* ``FileCacheHooks`` — the file cache (``services/cache``) follows renames, moves and deletes
  the NAS confirmed, and drops files a fresh NAS listing no longer shows.
* ``ListingOverlay`` — pending uploads and offline mutations (issue 5) are laid over every
  listing, from the NAS or the cache, and may answer for a folder only the Pi knows of.
* ``OfflineMutations`` — what a mutation meets when the NAS is not online: today a wake by
  policy, then 503 (``mutations.WakeOrRefuse``); issue 5 queues it instead.

Paths are normalised storage paths (``paths.normalize_path``). A path names a file or a folder
and, for a folder, everything below it.
"""

from __future__ import annotations

from typing import Protocol

from balupi.services.auth import AuthenticatedUser
from balupi.services.files.model import Listing, Mutation, MutationResult
from balupi.services.files.paths import Viewer


class FileCacheHooks(Protocol):
    """Told after the NAS changed a path, so cached bytes follow (renamed stays cached)."""

    async def moved(self, old: str, new: str) -> None:
        """``old`` (and everything below it) is now at ``new``."""
        ...

    async def removed(self, path: str) -> None:
        """``path`` (and everything below it) is gone, or was replaced by another file."""
        ...


class NoFileCache:
    """No file cache to tell."""

    async def moved(self, old: str, new: str) -> None:
        return None

    async def removed(self, path: str) -> None:
        return None


class ListingOverlay(Protocol):
    """Changes the Pi holds that the NAS does not know yet, laid over a listing."""

    async def overlay(
        self, listing: Listing | None, *, path: str, user: AuthenticatedUser, viewer: Viewer
    ) -> Listing | None:
        """``listing`` of folder ``path`` as ``user`` should see it.

        ``listing`` is None when neither the NAS nor the cache could answer (the NAS sleeps and
        never listed the folder): return a listing if the Pi alone knows the folder (an upload
        or a folder created while the NAS slept), else None for a 503. Items added must be
        visible to ``viewer``; the listing service sorts the result.
        """
        ...


class NoOverlay:
    """Nothing pending: every listing as it is."""

    async def overlay(
        self, listing: Listing | None, *, path: str, user: AuthenticatedUser, viewer: Viewer
    ) -> Listing | None:
        return listing


class OfflineMutations(Protocol):
    """The one place that decides what a mutation does while the NAS is not online."""

    async def submit(
        self, mutation: Mutation, user: AuthenticatedUser, *, trigger: str | None
    ) -> MutationResult | None:
        """An answer for the client (the mutation was kept for later), or None when the NAS
        is online now and the mutation should be forwarded; raise ``NasAsleep`` to refuse.

        ``trigger`` is the client's ``X-Sync-Trigger`` (``auto``/``scheduled`` for syncs).
        """
        ...
