"""The Pi's copies of pending uploads: served to downloads until the NAS has them, then freed.

The file cache keeps a registry of "local files" that downloads and thumbnails look at first
(``services/cache/local.py``). This class keeps that registry in step with the upload queue:
an upload is registered the moment it is acknowledged (and again at start-up, from the queue),
follows an offline rename or move, and is unregistered and deleted once the NAS lists the same
SHA-256, or when it is cancelled or superseded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import anyio

from balupi.services.cache.local import LocalFile, LocalFiles
from balupi.services.uploads.queue import NewUpload, PendingFile


class LocalCopies:
    def __init__(self, registry: LocalFiles | None = None) -> None:
        self.registry = registry or LocalFiles()

    def serve(self, uploads: Iterable[NewUpload | PendingFile], at: datetime) -> None:
        for upload in uploads:
            path = upload.target_path if isinstance(upload, NewUpload) else upload.path
            moment = upload.accepted_at if isinstance(upload, PendingFile) else at
            self.registry.register(
                path, LocalFile(upload.local_path, upload.size, moment, upload.sha256)
            )

    def moved(self, old: str, new: str) -> None:
        self.registry.moved(old, new)

    async def release(self, files: Iterable[Path]) -> None:
        """Stop serving these copies and delete them (the NAS has them, or nobody wants them)."""
        gone = {str(path) for path in files}
        if not gone:
            return
        for path in self.registry.paths():
            local = self.registry.get(path)
            if local is not None and str(local.file) in gone:
                self.registry.unregister(path)

        def _unlink() -> None:
            for name in gone:
                Path(name).unlink(missing_ok=True)

        await anyio.to_thread.run_sync(_unlink)
