"""Replaying a rename asks the NAS for its folder once, not once per path in it."""

from __future__ import annotations

from typing import Any

import pytest

from balupi.db.models import QueueOperation, UploadQueueEntry
from balupi.services.uploads import nas_push, offline_ops


async def test_a_done_rename_lists_its_folder_once(monkeypatch: pytest.MonkeyPatch) -> None:
    listed: list[str] = []

    async def list_folder(client: Any, token: str, folder: str) -> dict[str, nas_push.RemoteFile]:
        listed.append(folder)
        renamed = nas_push.RemoteFile("alice/b.txt", 1, None, None, is_directory=False)
        return {"b.txt": renamed}

    monkeypatch.setattr(nas_push, "list_folder", list_folder)
    entry = UploadQueueEntry(
        operation=QueueOperation.RENAME, source_path="alice/a.txt", target_path="alice/b.txt"
    )
    await offline_ops.replay_mutation(None, "token", entry)  # type: ignore[arg-type]
    assert listed == ["alice"]
