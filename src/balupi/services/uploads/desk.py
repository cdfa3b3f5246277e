"""The decisions behind the clients' sync calls (``routes/sync.py``), in one place.

Whether the NAS is awake (then a call goes to it), whose data a caller may see (their own; an
admin everyone's), BaluApp's folder configs asked of the NAS or read from the Pi's copy, and a
conflict's resolution with what follows it (the Pi's copy released, the worker kicked). A view
over the container's upload services and NAS link, built per request (``api/deps.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.db.models import NasState
from balupi.services.auth import AuthenticatedUser
from balupi.services.nas.link import NasLink
from balupi.services.uploads.conflicts import (
    Resolution,
    conflict_public,
    list_conflicts,
    resolve_conflict,
)
from balupi.services.uploads.service import Uploads
from balupi.services.uploads.sync_status import sync_status


def scope_of(user: AuthenticatedUser) -> str | None:
    """Whose data ``user`` may see: their own (their id), or everyone's (None) for an admin."""
    return None if user.is_admin else user.id


@dataclass(frozen=True)
class NasFolders:
    """The NAS's own answer to ``GET /api/mobile/sync/folders/{device_id}``, relayed as is."""

    content: bytes
    status_code: int


def _json_array(response: httpx.Response) -> list[Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, list) else None


@dataclass(frozen=True)
class SyncDesk:
    uploads: Uploads
    link: NasLink
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock

    def nas_awake(self) -> bool:
        """Whether a sync call goes to the NAS now (else the Pi answers it)."""
        return self.link.configured and self.link.state is NasState.ONLINE

    async def mobile_folders(
        self, device_id: str, user: AuthenticatedUser
    ) -> NasFolders | list[Any] | None:
        """The device's folder configs: the NAS's answer while it is awake (kept as the Pi's
        copy), else the copy; None for a device that is unknown or another user's."""
        folders = self.uploads.mobile_folders
        scope = scope_of(user)
        if await folders.owned_by_another(device_id, scope):
            return None
        if not self.nas_awake():
            return await folders.folders(device_id, scope)
        response = await self.link.client.request(
            "GET",
            f"/api/mobile/sync/folders/{quote(device_id, safe='')}",
            headers={"Authorization": f"Bearer {user.token}"},
        )
        if response.status_code == 200:
            await folders.remember(device_id, _json_array(response), owner=scope)
        elif response.status_code in (403, 404):  # a NAS that scopes devices said "not yours"
            await folders.refused(device_id, user.id)
        return NasFolders(response.content, response.status_code)

    async def folder_hidden(self, folder_id: str, user: AuthenticatedUser) -> bool:
        """Whether the folder sits on a device the Pi knows to be another user's."""
        return await self.uploads.mobile_folders.folder_owned_by_another(folder_id, scope_of(user))

    async def update_folder_offline(
        self, folder_id: str, changes: dict[str, Any], user: AuthenticatedUser
    ) -> dict[str, Any] | None:
        """Apply a folder change to the Pi's copy (the NAS hears of it later); None: not found."""
        folder = await self.uploads.mobile_folders.update_offline(
            user.id, folder_id, changes, scope=scope_of(user)
        )
        if folder is not None:
            await self.uploads.accepted(user.id, user.token)
        return folder

    async def status(self, user: AuthenticatedUser) -> dict[str, Any]:
        """Counts for the whole queue; the entries listed are the caller's own (admins: all)."""
        uploads = self.uploads
        return await sync_status(
            uploads.queue, self.sessions, self.clock, owner_id=scope_of(user), worker=uploads.worker
        )

    async def conflicts(self, user: AuthenticatedUser, open_only: bool) -> list[dict[str, object]]:
        rows = await list_conflicts(self.sessions, owner_id=scope_of(user), open_only=open_only)
        return [conflict_public(row) for row in rows]

    async def resolve(
        self, conflict_id: int, resolution: Resolution, user: AuthenticatedUser
    ) -> dict[str, object]:
        """Decide the caller's open conflict (``ConflictNotFound`` otherwise); the Pi's copy it
        no longer needs is released, and the worker goes on with the entry it held back."""
        conflict, released = await resolve_conflict(
            self.sessions, self.clock, conflict_id, resolution, owner_id=scope_of(user)
        )
        if released is not None:
            await self.uploads.copies.release([released])
        self.uploads.worker.kick()
        return conflict_public(conflict)
