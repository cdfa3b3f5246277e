"""A small JSON document on disk, replaced atomically (temp file, fsync, rename, fsync dir)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio

from balupi.services.uploads.spool import fsync_directory


async def read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(await anyio.Path(path).read_text())
    except FileNotFoundError:
        return default


async def write_json(path: Path, data: Any) -> None:
    encoded = json.dumps(data).encode()

    def _write() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        with temporary.open("wb") as handle:
            handle.write(encoded)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        fsync_directory(path.parent)

    await anyio.to_thread.run_sync(_write)
