"""Folder, delete, rename and move made while the NAS slept: kept in order, replayed in order.

They share the upload queue (its ``id`` is the order across kinds: an upload followed by a rename
of that file must reach the NAS in that order). Replay uses BaluHost's own routes as the user who
made the change; the NAS's answers to them are idempotent enough to repeat after a crash (a delete
of a missing path is "Deleted", an existing folder is "Folder created").
"""

from __future__ import annotations

from urllib.parse import quote

from balupi.db.models import QueueOperation, UploadQueueEntry
from balupi.services.files.paths import name_of, parent_of
from balupi.services.nas.client import NasClient
from balupi.services.uploads import nas_push


async def replay_mutation(client: NasClient, token: str, entry: UploadQueueEntry) -> None:
    """Apply one queued mutation on the NAS; raises what ``nas_push`` raises on refusal."""
    target = entry.target_path
    if entry.operation is QueueOperation.MKDIR:
        body = {"path": parent_of(target), "name": name_of(target)}
        await nas_push.replay(client, token, "POST", "/api/files/folder", body)
    elif entry.operation is QueueOperation.DELETE:
        if not target:
            raise ValueError("refusing to replay a delete of the storage root")
        await nas_push.replay(client, token, "DELETE", f"/api/files/{quote(target)}", {})
    elif entry.operation is QueueOperation.RENAME:
        body = {"old_path": entry.source_path or "", "new_name": name_of(target)}
        await nas_push.replay(client, token, "PUT", "/api/files/rename", body)
    elif entry.operation is QueueOperation.MOVE:
        body = {"source_path": entry.source_path or "", "target_path": target}
        await nas_push.replay(client, token, "PUT", "/api/files/move", body)
    else:
        raise ValueError(f"not a mutation: {entry.operation}")
