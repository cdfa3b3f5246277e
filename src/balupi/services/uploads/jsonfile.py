"""A small JSON document on disk, replaced atomically (temp file, fsync, rename, fsync dir)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio

from balupi.durable import replace_atomically


async def read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(await anyio.Path(path).read_text())
    except FileNotFoundError:
        return default


async def write_json(path: Path, data: Any) -> None:
    await anyio.to_thread.run_sync(replace_atomically, path, json.dumps(data).encode())
