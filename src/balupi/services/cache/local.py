"""Files the Pi holds that the NAS does not have yet, served before the cache and the NAS.

Another service (the upload queue of issue 5) registers each file it accepted under its NAS
path as soon as it is durable, and unregisters it once the NAS holds the same bytes. Downloads
and thumbnails look here first, so a photo uploaded while the NAS sleeps can be viewed at once.
These files are not part of the cache store: eviction never sees them, so it can never remove
one. Their total is the cache's "dirty" figure (bytes not yet on the NAS).

The registry lives in memory; its owner registers its pending files again at start-up (it has
them in its own table), which keeps one source of truth for what is pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from balupi.services.cache.catalog import under


@dataclass(frozen=True)
class LocalFile:
    """Bytes of NAS path ``path`` kept at ``file`` on the Pi."""

    file: Path
    size: int
    modified_at: datetime
    sha256: str | None = None  # known for uploads (hashed while received); keys thumbnails


class LocalFiles:
    """Path → local file; the first place downloads and thumbnails look."""

    def __init__(self) -> None:
        self._files: dict[str, LocalFile] = {}

    def register(self, path: str, local: LocalFile) -> None:
        """Serve ``local`` for NAS path ``path`` (already normalised) until unregistered."""
        self._files[path] = local

    def unregister(self, path: str) -> LocalFile | None:
        return self._files.pop(path, None)

    def get(self, path: str) -> LocalFile | None:
        return self._files.get(path)

    def __contains__(self, path: object) -> bool:
        return path in self._files

    def paths(self) -> list[str]:
        return list(self._files)

    def dirty_bytes(self) -> int:
        return sum(local.size for local in self._files.values())

    def moved(self, old: str, new: str) -> None:
        """Follow a rename or move of ``old`` (a file or folder) to ``new``."""
        for path in [p for p in self._files if under(p, old)]:
            self._files[new + path[len(old) :]] = self._files.pop(path)

    def removed(self, path: str) -> None:
        for gone in [p for p in self._files if under(p, path)]:
            del self._files[gone]
