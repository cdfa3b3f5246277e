"""The bytes of the cache on the SSD: content-addressed blobs, written through temp files.

Layout under ``DATA_DIR/cache``::

    objects/ab/ab12…ef   one file per distinct content, named by its SHA-256 (identical files
                         under several paths are kept once)
    tmp/<random>.part    downloads in progress; whatever is here at start-up is a leftover of a
                         crash and is deleted

A blob only ever appears complete: it is written to ``tmp/``, hashed in the same pass,
``fsync``ed, renamed into ``objects/`` (atomic on one filesystem) and its directory ``fsync``ed,
so after a power cut a blob is either whole or absent. Every method here blocks (disk I/O,
hashing); callers run them in a worker thread, never on the event loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from balupi.durable import fsync_path

IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024  # chunks per writev
HASH_READ_BYTES = 1024 * 1024  # big reads: fewer syscalls; the hash releases the GIL on each


def hash_file(path: Path) -> tuple[str, int]:
    """(SHA-256 hex, size) of ``path``, read in 1 MiB pieces (never whole)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_READ_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass(frozen=True)
class DiskSpace:
    total: int
    free: int


class BlobWriter:
    """One temp file being filled and hashed in one pass over the bytes (``write``, ``absorb``).

    Writes go straight to the file descriptor (no user-space buffer), so a reader that opens
    the temp file sees every byte as soon as ``write`` returns: late requesters of a file
    being fetched read it from here (``fetch.py``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, piece: Sequence[bytes]) -> None:
        """Append the chunks of ``piece`` (one ``writev``, no joining copy); the same piece
        must also be passed to ``absorb``, in the same order."""
        assert self._fd is not None, "write after finish"
        views = [memoryview(chunk) for chunk in piece if chunk]
        while views:
            written = os.writev(self._fd, views[:IOV_MAX])
            self.size += written
            while views and written >= len(views[0]):  # drop what went out, keep the rest
                written -= len(views.pop(0))
            if written:
                views[0] = views[0][written:]

    def absorb(self, piece: Sequence[bytes]) -> None:
        """Hash ``piece``. Separate from ``write`` so that the two can run in two threads at
        once (both release the GIL): a fill then goes at the pace of the slower, not the sum."""
        for chunk in piece:
            self._digest.update(chunk)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def finish(self) -> None:
        """``fsync`` and close the file; it stays in ``tmp/`` until committed."""
        assert self._fd is not None, "finish twice"
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None

    def discard(self) -> None:
        """Close and delete the temp file: nothing of an abandoned download stays behind."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)


class ContentStore:
    """Blobs by SHA-256 under ``root``; all methods block."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.tmp = root / "tmp"

    def prepare(self) -> None:
        """Create the layout and delete leftovers of interrupted downloads."""
        self.objects.mkdir(parents=True, exist_ok=True)
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)

    def blob(self, sha256: str) -> Path:
        return self.objects / sha256[:2] / sha256

    def new_writer(self) -> BlobWriter:
        return BlobWriter(self.tmp / f"{uuid.uuid4().hex}.part")

    def commit(self, temp: Path, sha256: str) -> Path:
        """Move a finished (fsynced) temp file into place as blob ``sha256``.

        If that content is already stored, the temp file is dropped: the bytes are identical.
        """
        target = self.blob(sha256)
        if target.exists():
            temp.unlink(missing_ok=True)
            return target
        target.parent.mkdir(exist_ok=True)
        os.replace(temp, target)
        fsync_path(target.parent)
        return target

    def delete(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.blob(sha256).unlink()

    def size_of(self, sha256: str) -> int | None:
        """The blob's size on disk, or None when it is missing."""
        try:
            return self.blob(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def blobs(self) -> dict[str, int]:
        """Every stored blob and its size (for start-up reconciliation)."""
        found: dict[str, int] = {}
        for shard in self.objects.iterdir():
            if not shard.is_dir():
                continue
            for entry in os.scandir(shard):
                if entry.is_file():
                    found[entry.name] = entry.stat().st_size
        return found

    def rehash(self, sha256: str) -> bool:
        """Whether blob ``sha256`` still hashes to its name (False if changed or missing)."""
        try:
            digest, _ = hash_file(self.blob(sha256))
        except FileNotFoundError:
            return False
        return digest == sha256

    def disk(self) -> DiskSpace:
        usage = shutil.disk_usage(self.root)
        return DiskSpace(total=usage.total, free=usage.free)
