"""``SpoolFile``: bytes written durably, hashed on the way, renamed into place only when whole.

An acknowledged upload must survive a crash and a power cut: the bytes go to ``<name>.part``,
are hashed (SHA-256) as they pass, fsynced, renamed to ``<name>`` and the directory is fsynced,
all before anybody is told "saved". Writes are buffered and handed to a worker thread a MiB at
a time, so a slow USB-2 disk never stalls the event loop. A full disk is ``InsufficientStorage``
and leaves nothing behind.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO

import anyio

from balupi.durable import fsync_path
from balupi.errors import BaluPiError

WRITE_BUFFER_BYTES = 1024 * 1024


class InsufficientStorage(BaluPiError):
    """The Pi's disk cannot take the file (507, which BaluDesk reads as "pause for 10 min")."""

    code = "disk_full"
    status_code = 507
    detail: str = "Insufficient storage on BaluPi"


def free_bytes(directory: Path) -> int:
    return shutil.disk_usage(directory).free


def is_disk_full(exc: OSError) -> bool:
    """Whether ``exc`` is the file system saying it is full (also read by ``api/errors.py``)."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


class SpoolFile:
    """One file being written under ``directory``; use ``commit()`` or ``discard()``."""

    def __init__(self, directory: Path, name: str) -> None:
        self.final_path = directory / name
        self.partial_path = directory / f"{name}.part"
        self.size = 0
        self._directory = directory
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._file: BinaryIO | None = None

    async def open(self, *, offset: int | None = None) -> None:
        """Open a new ``.part`` file, or, with ``offset``, resume an existing one after its first
        ``offset`` bytes (which are rehashed, so the digest covers the whole file)."""

        def _open() -> BinaryIO:
            if offset is not None:
                handle = self.partial_path.open("r+b")
                remaining = offset
                while remaining:
                    block = handle.read(min(remaining, WRITE_BUFFER_BYTES))
                    if not block:
                        raise ValueError("partial file shorter than its recorded offset")
                    self._hash.update(block)
                    remaining -= len(block)
                handle.truncate(offset)
                return handle
            return self.partial_path.open("xb")

        try:
            self._file = await anyio.to_thread.run_sync(_open)
        except OSError as exc:
            if is_disk_full(exc):
                raise InsufficientStorage() from exc
            raise
        self.size = offset or 0

    async def write(self, data: bytes) -> None:
        self._hash.update(data)
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= WRITE_BUFFER_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        if not self._buffer:
            return
        block, self._buffer = bytes(self._buffer), bytearray()
        handle = self._file
        assert handle is not None, "open() first"
        try:
            await anyio.to_thread.run_sync(handle.write, block)
        except OSError as exc:
            if is_disk_full(exc):
                raise InsufficientStorage() from exc
            raise

    async def sync(self) -> None:
        """Flush and fsync the ``.part`` file without finishing it (a resumable offset)."""
        await self._flush()
        handle = self._file
        assert handle is not None

        def _sync() -> None:
            handle.flush()
            os.fsync(handle.fileno())

        try:
            await anyio.to_thread.run_sync(_sync)
        except OSError as exc:
            if is_disk_full(exc):
                raise InsufficientStorage() from exc
            raise

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    async def commit(self) -> Path:
        """Make the file durable under its final name; returns that path."""
        await self.sync()
        await self.close()

        def _publish() -> None:
            os.replace(self.partial_path, self.final_path)
            fsync_path(self._directory)

        await anyio.to_thread.run_sync(_publish)
        return self.final_path

    async def close(self) -> None:
        if self._file is not None:
            handle, self._file = self._file, None
            await anyio.to_thread.run_sync(handle.close)

    async def discard(self) -> None:
        """Remove whatever was written; safe to call more than once."""
        self._buffer = bytearray()
        await self.close()

        def _remove() -> None:
            self.partial_path.unlink(missing_ok=True)
            self.final_path.unlink(missing_ok=True)

        await anyio.to_thread.run_sync(_remove)
