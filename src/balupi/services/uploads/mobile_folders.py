"""BaluApp's folder-sync configuration, kept so phone backups run while the NAS sleeps.

BaluApp reads its folder configs from ``GET /api/mobile/sync/folders/{device_id}`` (a bare JSON
array) and ends every run with ``PUT /api/mobile/sync/folders/{folder_id}`` ``{status: "idle"}``,
which moves ``last_sync`` forward (docs/compat/clients.md §1.5, §6.1 Tier 2). While the NAS is awake
both go to it and the Pi keeps a copy; while it sleeps the Pi answers from the copy, applies the
update itself (``last_sync`` = now) and forwards it once the NAS is back, as the user who made it.
The copy lives in one JSON file, replaced atomically; this class alone writes it, so it is read
once and kept in memory.

A device belongs to one user on the NAS (BaluHost's ``MobileDevice.user_id``), who alone should
see its configs; BaluHost's own security review names the missing check on these routes (a 404
for another user's device is its fix). While the NAS sleeps the Pi enforces it: a device's owner
is the first user (not an admin) whose request for it the NAS answered, normally the phone
itself, whose device id is a random UUID no one else knows first; a NAS that later refuses that
user (403/404) takes the device from them. Another user's device looks like one the Pi does not
know: 404. A copy kept before owners were recorded is an admin's until its owner fetches it
again. While the NAS is awake the same rule holds for a device whose owner the Pi knows (the NAS
itself would serve it to anyone); a device the Pi has no owner for yet is the NAS's to answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from balupi.clock import Clock, utc_iso
from balupi.errors import NasUnreachable
from balupi.logs import get_logger
from balupi.services.nas.client import NasClient
from balupi.services.uploads.jsonfile import read_json, write_json

log = get_logger(__name__)

Folder = dict[str, Any]
# Set by the NAS, never by an update: a folder cannot be moved onto another user's device.
SERVER_FIELDS = frozenset({"id", "device_id", "last_sync", "created_at"})


class MobileFolders:
    def __init__(self, path: Path, clock: Clock) -> None:
        self._path = path
        self._clock = clock
        self._lock = asyncio.Lock()
        self._data: dict[str, Any] | None = None  # the file's content, once read

    async def _load(self) -> dict[str, Any]:
        if self._data is None:
            data: dict[str, Any] = await read_json(self._path, {})
            data.setdefault("devices", {})
            data.setdefault("owners", {})
            data.setdefault("pending", [])
            self._data = data
        return self._data

    async def _save(self, data: dict[str, Any]) -> None:
        try:
            await write_json(self._path, data)
        except BaseException:
            self._data = None  # not written: the file, read again, is the copy
            raise

    async def remember(
        self, device_id: str, folders: list[Folder] | None, *, owner: str | None
    ) -> None:
        """The NAS's answer for ``device_id`` to ``owner`` (None: an admin, who owns nothing by
        asking), kept as the copy; the first such user becomes the device's owner."""
        if folders is None:
            return
        async with self._lock:
            data = await self._load()
            data["devices"][device_id] = folders
            if owner is not None:
                data["owners"].setdefault(device_id, owner)
            await self._save(data)

    async def refused(self, device_id: str, user_id: str) -> None:
        """The NAS refused ``user_id`` this device: it is not theirs, whatever the Pi thought."""
        async with self._lock:
            data = await self._load()
            if data["owners"].get(device_id) == user_id:
                del data["owners"][device_id]
                await self._save(data)

    async def folders(self, device_id: str, scope: str | None) -> list[Folder] | None:
        """The copy for ``device_id`` if ``scope`` (a user id; None: an admin) may see it; None
        for a device that is not theirs, as for one the Pi does not know."""
        data = await self._load()
        if device_id not in data["devices"] or not self._visible(data, device_id, scope):
            return None
        folders: list[Folder] = list(data["devices"][device_id])
        return folders

    async def update_offline(
        self, user_id: str, folder_id: str, changes: Folder, *, scope: str | None
    ) -> Folder | None:
        """Apply a PUT while the NAS sleeps: the copy changes now, the NAS hears of it later.

        Only a folder of a device ``scope`` may see is found (None: any, for an admin).
        """
        changes = {k: v for k, v in changes.items() if k not in SERVER_FIELDS}
        async with self._lock:
            data = await self._load()
            for device_id, folders in data["devices"].items():
                if not self._visible(data, device_id, scope):
                    continue
                for folder in folders:
                    if str(folder.get("id")) == folder_id:
                        folder.update(changes)
                        folder["last_sync"] = utc_iso(self._clock.now())
                        data["pending"].append(
                            {"user_id": user_id, "folder_id": folder_id, "changes": changes}
                        )
                        await self._save(data)
                        return dict(folder)
        return None

    async def owned_by_another(self, device_id: str, scope: str | None) -> bool:
        """Whether the Pi knows ``device_id`` to be someone other than ``scope``'s."""
        data = await self._load()
        owner = data["owners"].get(device_id)
        return owner is not None and not self._visible(data, device_id, scope)

    async def folder_owned_by_another(self, folder_id: str, scope: str | None) -> bool:
        """Whether folder ``folder_id`` sits on a device the Pi knows to be another user's."""
        data = await self._load()
        return any(
            str(folder.get("id")) == folder_id
            and data["owners"].get(device_id) is not None
            and not self._visible(data, device_id, scope)
            for device_id, folders in data["devices"].items()
            for folder in folders
        )

    @staticmethod
    def _visible(data: dict[str, Any], device_id: str, scope: str | None) -> bool:
        return scope is None or data["owners"].get(device_id) == scope

    async def pending(self) -> list[dict[str, Any]]:
        data = await self._load()
        pending: list[dict[str, Any]] = list(data["pending"])
        return pending

    async def forwarded(self, count: int) -> None:
        """The first ``count`` pending updates reached the NAS."""
        async with self._lock:
            data = await self._load()
            data["pending"] = data["pending"][count:]
            await self._save(data)


async def forward_pending(
    folders: MobileFolders,
    client_for: Callable[[], NasClient],
    token_for: Callable[[str], Awaitable[str | None]],
) -> None:
    """Send the updates made while the NAS slept, in order; stop at the first that fails."""
    sent = 0
    for update in await folders.pending():
        token = await token_for(update["user_id"])
        if token is None:
            break
        try:
            response = await client_for().request(
                "PUT",
                f"/api/mobile/sync/folders/{update['folder_id']}",
                headers={"Authorization": f"Bearer {token}"},
                json=update["changes"],
            )
        except NasUnreachable:
            break
        if response.status_code >= 500:
            break
        if response.status_code >= 400:
            log.warning("nas refused a folder update", status=response.status_code, **update)
        sent += 1
    if sent:
        await folders.forwarded(sent)
