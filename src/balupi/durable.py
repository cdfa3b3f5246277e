"""Writes that survive a power cut: fsync a file or a folder, replace a small file atomically.

POSIX makes a rename durable only once its folder is fsynced, and a file's bytes only once the
file is; every place in BaluPi that promises "the old or the new, never half" goes through here.
All functions block: call them from a worker thread.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_path(path: Path) -> None:
    """fsync a file or a folder by name (a folder: the renames and unlinks made in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(path: Path, data: bytes) -> None:
    """Make ``path`` hold ``data``: a crash leaves the old content or the new, never half.

    The temporary file is created 0600 beside ``path`` (``mkstemp``), written, fsynced and
    renamed over ``path``; then the folder is fsynced so the rename itself is durable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_path(path.parent)
