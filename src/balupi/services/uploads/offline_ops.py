"""Folder, delete, rename and move made while the NAS slept: kept in order, replayed in order.

They share the upload queue (its ``id`` is the order across kinds: an upload followed by a rename
of that file must reach the NAS in that order). Replay uses BaluHost's own routes as the user who
made the change; the NAS's answers to them are idempotent enough to repeat after a crash (a delete
of a missing path is "Deleted", an existing folder is "Folder created").

Before a folder, rename or move is sent, the NAS is asked what it holds: a change its state rules
out for good (a file where the folder should go, a rename of something that is not there) would
only earn a 500 from BaluHost, retried forever; it is ``RuledOut`` instead, and parked. A rename
or move whose source is gone and whose target is there already happened (a crash after the NAS
did it): nothing is sent again.
"""

from __future__ import annotations

from urllib.parse import quote

from balupi.db.models import QueueOperation, UploadQueueEntry
from balupi.errors import NasRejected
from balupi.services.files.paths import name_of, parent_of
from balupi.services.nas.client import NasClient
from balupi.services.uploads import nas_push


class RuledOut(NasRejected):
    """The NAS's own state rules the change out for good (as a 409 would); ``detail`` says why."""

    code = "ruled_out_offline"

    def __init__(self, detail: str) -> None:
        super().__init__(409, detail)


async def _can_replay(client: NasClient, token: str, entry: UploadQueueEntry) -> bool:
    """False when the change is already on the NAS; ``RuledOut`` when it never can be. Each
    folder is listed once: a rename's source and target share theirs."""
    listings: dict[str, dict[str, nas_push.RemoteFile]] = {}

    async def exists(path: str) -> nas_push.RemoteFile | None:
        folder = parent_of(path)
        if folder not in listings:
            listings[folder] = await nas_push.list_folder(client, token, folder)
        return listings[folder].get(name_of(path))

    target, source = entry.target_path, entry.source_path or ""
    if entry.operation is QueueOperation.MKDIR:
        found = await exists(target)
        if found is not None and not found.is_directory:
            raise RuledOut(f"A file already exists at {target}, so the folder cannot be made.")
    elif (
        entry.operation in (QueueOperation.RENAME, QueueOperation.MOVE)
        and await exists(source) is None
    ):
        if await exists(target) is not None:
            return False
        raise RuledOut(f"The NAS has nothing at {source} to rename or move.")
    return True


async def replay_mutation(client: NasClient, token: str, entry: UploadQueueEntry) -> None:
    """Apply one queued mutation on the NAS; raises what ``nas_push`` raises on refusal, and
    ``RuledOut`` for a change the NAS's state makes impossible."""
    target = entry.target_path
    if not await _can_replay(client, token, entry):
        return
    if entry.operation is QueueOperation.MKDIR:
        body = {"path": parent_of(target), "name": name_of(target)}
        await nas_push.replay(client, token, "POST", "/api/files/folder", body)
    elif entry.operation is QueueOperation.DELETE:
        if not target:
            raise RuledOut("A delete of the storage root is never replayed.")
        await nas_push.replay(client, token, "DELETE", f"/api/files/{quote(target)}", {})
    elif entry.operation is QueueOperation.RENAME:
        body = {"old_path": entry.source_path or "", "new_name": name_of(target)}
        await nas_push.replay(client, token, "PUT", "/api/files/rename", body)
    elif entry.operation is QueueOperation.MOVE:
        body = {"source_path": entry.source_path or "", "target_path": target}
        await nas_push.replay(client, token, "PUT", "/api/files/move", body)
    else:
        raise RuledOut(f"{entry.operation.value} is not a folder, delete, rename or move.")
