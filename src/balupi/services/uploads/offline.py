"""What the Pi holds that the NAS does not know yet, for listings and for new changes.

``PendingChanges`` plugs into the files service twice:

* as its ``ListingOverlay``: every listing (from the NAS or from the cache) shows pending uploads
  at once (with their size, SHA-256 ``checksum`` and owner, so BaluApp does not upload them
  again) and the folders, deletes, renames and moves made while the NAS slept, replayed over it
  in the queue's order; a folder only the Pi knows of is listed too;
* as its ``OfflineMutations``: while the NAS is not online a delete, folder, rename or move is
  kept in the queue (answered as the NAS answers it) and replayed in order once it is back.
  Deleting a file that exists only as a pending upload cancels the upload instead. A folder,
  rename or move to a name the NAS cannot store is refused (400) before it is kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from balupi.clock import utc_iso
from balupi.db.models import FileMetadata, QueueOperation, UploadQueueEntry
from balupi.services.auth import AuthenticatedUser
from balupi.services.files.items import DIRECTORY, FILE, render, sorted_items
from balupi.services.files.model import (
    CreateFolder,
    Delete,
    JsonObject,
    Listing,
    ListingOrigin,
    Move,
    Mutation,
    MutationResult,
    Rename,
)
from balupi.services.files.mutations import produced_path
from balupi.services.files.paths import Viewer, join, name_of, parent_of, require_storable
from balupi.services.uploads.local_copies import LocalCopies
from balupi.services.uploads.queue import UploadQueue

MetadataLookup = Callable[[str], Awaitable[FileMetadata | None]]


def _inside(path: str, folder: str) -> bool:
    """``path`` is ``folder`` itself or lies below it (the root contains everything)."""
    return folder == "" or path == folder or path.startswith(f"{folder}/")


def _child_of(path: str, folder: str) -> str | None:
    """The name of the entry of ``folder`` that ``path`` is, or lies in; None if outside."""
    if path == folder or not _inside(path, folder):
        return None
    rest = path[len(folder) + 1 :] if folder else path
    return rest.split("/", 1)[0]


def _folder_item(path: str, entry: UploadQueueEntry) -> JsonObject:
    return _item(path, DIRECTORY, size=0, entry=entry, checksum=None, mime=None)


def _item(
    path: str,
    kind: str,
    *,
    size: int,
    entry: UploadQueueEntry,
    checksum: str | None,
    mime: str | None,
    file_id: Any = None,
) -> JsonObject:
    return {
        "name": name_of(path),
        "path": path,
        "size": size,
        "type": kind,
        "modified_at": utc_iso(entry.created_at),
        "owner_id": entry.owner_id,
        "owner_name": None,
        "mime_type": mime,
        "file_id": file_id,
        "checksum": checksum,
        "sync_info": None,
        "can_read": None,
        "can_write": None,
        "can_delete": None,
        # Not BaluHost's: says the NAS does not have this yet (extra fields are harmless).
        "balupi_pending": True,
    }


class PendingChanges:
    def __init__(
        self,
        queue: UploadQueue,
        metadata: MetadataLookup,
        *,
        is_online: Callable[[], bool],
        on_queued: Callable[[str, str], Awaitable[None]],
        copies: LocalCopies | None = None,
    ) -> None:
        self._copies = copies or LocalCopies()
        self._queue = queue
        self._metadata = metadata
        self._is_online = is_online
        self._on_queued = on_queued

    # -- OfflineMutations ---------------------------------------------------------------------
    async def submit(
        self, mutation: Mutation, user: AuthenticatedUser, *, trigger: str | None
    ) -> MutationResult | None:
        if self._is_online():
            return None
        if not isinstance(mutation, Delete):
            require_storable(produced_path(mutation))
        match mutation:
            case Delete(path=path):
                cancelled = await self._queue.cancel_pending_upload(path, "deleted before sync")
                await self._copies.release(cancelled)
                on_nas = await self._metadata(path) is not None
                if on_nas or not cancelled:
                    await self._queue.add_mutation(
                        user.id, user.username, QueueOperation.DELETE, path
                    )
                message = "Deleted"
            case CreateFolder(parent=parent, name=name):
                await self._queue.add_mutation(
                    user.id, user.username, QueueOperation.MKDIR, join(parent, name)
                )
                message = "Folder created"
            case Rename(path=path, target=target):
                await self._queue.add_mutation(
                    user.id, user.username, QueueOperation.RENAME, target, source=path
                )
                self._copies.moved(path, target)
                message = "Renamed"
            case Move(source=source, target=target):
                destination = await self._move_destination(source, target)
                await self._queue.add_mutation(
                    user.id, user.username, QueueOperation.MOVE, destination, source=source
                )
                self._copies.moved(source, destination)
                message = "Moved"
        await self._on_queued(user.id, user.token)
        return {"message": message}

    async def _move_destination(self, source: str, target: str) -> str:
        """BaluHost moves *into* an existing folder, else to the path given."""
        known = await self._metadata(target)
        pending_folder = await self._queue.folder_pending(target)
        if (known is not None and known.is_directory) or pending_folder:
            return join(target, name_of(source))
        return target

    # -- ListingOverlay -----------------------------------------------------------------------
    async def overlay(
        self, listing: Listing | None, *, path: str, user: AuthenticatedUser, viewer: Viewer
    ) -> Listing | None:
        entries = await self._queue.open_entries_touching(path)
        if not entries:
            return listing
        items: dict[str, JsonObject] = (
            {str(item.get("name")): item for item in listing.items} if listing else {}
        )
        known = listing is not None
        for entry in entries:
            moved_in = await self._moved_in_item(entry, path)
            known = self._apply(entry, path, items, moved_in) or known
        if not known:
            return None
        visible = [item for item in items.values() if viewer.can_see(str(item.get("path", "")))]
        if listing is not None:
            return replace(listing, items=sorted_items(visible))
        return Listing(path=path, items=sorted_items(visible), origin=ListingOrigin.CACHE)

    async def _moved_in_item(self, entry: UploadQueueEntry, folder: str) -> JsonObject | None:
        """The item a rename or move brings into ``folder`` from elsewhere, as last listed."""
        source = entry.source_path
        if source is None or parent_of(entry.target_path) != folder or parent_of(source) == folder:
            return None
        row = await self._metadata(source)
        if row is None:
            return None
        return {**render(row), "name": name_of(entry.target_path), "path": entry.target_path}

    @staticmethod
    def _apply(
        entry: UploadQueueEntry,
        folder: str,
        items: dict[str, JsonObject],
        moved_in: JsonObject | None,
    ) -> bool:
        """Replay one queued change over ``items`` of ``folder``; True if it makes the folder
        known to exist."""
        target, source = entry.target_path, entry.source_path
        if entry.operation in (QueueOperation.DELETE, QueueOperation.RENAME, QueueOperation.MOVE):
            gone = source if entry.operation is not QueueOperation.DELETE else target
            if gone is not None:
                if _inside(folder, gone) and folder != "":
                    items.clear()  # the folder itself was deleted or moved away
                    return False
                if parent_of(gone) == folder:
                    moved = items.pop(name_of(gone), None)
                    if entry.operation is not QueueOperation.DELETE and parent_of(target) == folder:
                        items[name_of(target)] = (
                            {**moved, "name": name_of(target), "path": target}
                            if moved
                            else _folder_item(target, entry)
                        )
                    return False
            if entry.operation is QueueOperation.DELETE:
                return False
        child = _child_of(target, folder)
        if child is None:
            return target == folder
        child_path = join(folder, child)
        if entry.operation is QueueOperation.UPLOAD and child_path == target:
            previous = items.get(child)
            items[child] = _item(
                target,
                FILE,
                size=entry.size or 0,
                entry=entry,
                checksum=entry.sha256,
                mime=entry.mime_type,
                file_id=previous.get("file_id") if previous else None,
            )
        elif moved_in is not None and child_path == target:
            items[child] = moved_in
        elif child not in items:
            items[child] = _folder_item(child_path, entry)
        return True
