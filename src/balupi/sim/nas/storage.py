"""Disk work of the emulated NAS: sizes, the quota, and writing uploads while hashing them.

The functions that walk or stat the tree are synchronous and meant to run in a worker thread
(sync routes or ``anyio.to_thread``). ``write_stream`` is the one writer both the multipart and the
chunked upload use: it streams to disk in bounded pieces off the event loop and feeds a SHA-256
as it goes, because BaluHost stores the checksum of every API upload (docs/compat/nas-api.md §3.4).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

import anyio.to_thread
from fastapi import HTTPException

from balupi.sim.nas.paths import is_system_name
from balupi.sim.nas.state import EmulatedNas

if TYPE_CHECKING:
    from _hashlib import HASH

# Pieces of a request body are gathered up to this size before one trip to a worker thread.
_FLUSH_BYTES = 1024 * 1024


def tree_size(path: Path) -> int:
    """Bytes of all regular files below ``path`` (a directory's size in a listing)."""
    total = 0
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    total += tree_size(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    except OSError:
        pass  # vanished or unreadable while walking: count what is there, as BaluHost does
    return total


def used_bytes(root: Path) -> int:
    """Bytes of user data: the whole storage root except its system directories."""
    if not root.is_dir():
        return 0
    total = 0
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if not is_system_name(entry.name):
                    total += tree_size(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    return total


def available_bytes(state: EmulatedNas) -> int:
    """Room left: quota minus use with a quota (dev mode), else the disk's free space (prod)."""
    if state.quota_bytes is not None:
        return max(0, state.quota_bytes - used_bytes(state.storage))
    return shutil.disk_usage(state.storage).free


def require_space(state: EmulatedNas, needed: int) -> None:
    """507 when ``needed`` more bytes do not fit; the app scrubs the body as BaluHost does."""
    available = available_bytes(state)
    if needed > 0 and needed > available:
        raise HTTPException(
            status_code=507,
            detail=f"Not enough space: need {needed} bytes, available {available} bytes",
        )


class StreamTooLongError(Exception):
    """The stream carried more bytes than it was allowed to."""


def _open(path: Path, append: bool) -> IO[bytes]:
    return path.open("ab" if append else "wb")


def _write_and_hash(handle: IO[bytes], data: bytes, hasher: HASH) -> None:
    handle.write(data)
    hasher.update(data)


async def write_stream(
    path: Path,
    chunks: AsyncIterable[bytes],
    hasher: HASH,
    *,
    append: bool = False,
    limit: int | None = None,
) -> int:
    """Write ``chunks`` to ``path`` (truncating it unless ``append``), updating ``hasher``.

    Returns the number of bytes written. Raises ``StreamTooLongError`` before writing the piece
    that would take the total past ``limit``; what was written until then stays on disk.
    """
    handle = await anyio.to_thread.run_sync(_open, path, append)
    written = 0
    pending = bytearray()
    try:
        async for piece in chunks:
            if limit is not None and written + len(pending) + len(piece) > limit:
                raise StreamTooLongError(f"{written + len(pending) + len(piece)} > {limit} bytes")
            pending += piece
            if len(pending) >= _FLUSH_BYTES:
                await anyio.to_thread.run_sync(_write_and_hash, handle, bytes(pending), hasher)
                written += len(pending)
                pending.clear()
        if pending:
            await anyio.to_thread.run_sync(_write_and_hash, handle, bytes(pending), hasher)
            written += len(pending)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(handle.close)
    return written
