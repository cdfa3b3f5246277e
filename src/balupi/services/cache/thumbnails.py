"""Thumbnails of images, made by Pillow from the cached (or fetched, or uploaded) original.

A thumbnail is keyed by the *content* of its original (its SHA-256) and the size, and stored
under ``DATA_DIR/cache/thumbnails``: a renamed photo keeps its thumbnail, and the same photo
under two paths is rendered once. Sizes are rounded up to a few fixed edges so that arbitrary
``size=`` values cannot fill the disk with variants.

Rendering decodes an image, which costs CPU and memory a 1 GB Pi has little of, so it runs in a
worker thread, one image at a time (a capacity limiter of one); JPEGs are decoded already
scaled down (``Image.draft``), so a 24-megapixel photo never exists in memory at full size.
EXIF orientation is applied (``ImageOps.exif_transpose``), as a phone's gallery shows it.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

import anyio

from balupi.errors import FileError
from balupi.services.auth import AuthenticatedUser
from balupi.services.cache.service import FileCache

EDGES = (64, 128, 256, 512, 1024)
DEFAULT_EDGE = 256
JPEG_QUALITY = 85


class NotAnImage(FileError):
    code = "not_an_image"
    status_code = 404

    def __init__(self, detail: str = "Not an image") -> None:
        super().__init__(detail)


def edge_for(size: int | None) -> int:
    """The smallest fixed edge at least ``size`` (the largest for anything above it)."""
    if size is None:
        return DEFAULT_EDGE
    return next((edge for edge in EDGES if edge >= size), EDGES[-1])


def looks_like_image(path: str) -> bool:
    """By name, before fetching anything: a 4 GB video is not downloaded to learn it is one."""
    mime = mimetypes.guess_type(path)[0] or ""
    return mime.startswith("image/") and mime != "image/svg+xml"


def render(source: Path, target: Path, edge: int) -> None:
    """Write a JPEG of ``source`` fitting ``edge``×``edge`` to ``target`` (atomically). Blocks.

    Skipped when ``target`` exists: a request queued behind an identical one finds it done.
    """
    if target.exists():
        return
    from PIL import Image, ImageOps  # here: Pillow costs every start megabytes until first used

    with Image.open(source) as original:
        original.draft("RGB", (edge, edge))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
        image = ImageOps.exif_transpose(original)
        image.thumbnail((edge, edge))
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        partial = target.with_suffix(".part")
        image.save(partial, "JPEG", quality=JPEG_QUALITY)
    os.replace(partial, target)


class Thumbnails:
    """Makes and keeps thumbnails; one render at a time, off the event loop."""

    def __init__(self, cache: FileCache, directory: Path) -> None:
        self._cache = cache
        self.directory = directory
        self._limiter = anyio.CapacityLimiter(1)

    async def start(self) -> None:
        await anyio.to_thread.run_sync(lambda: self.directory.mkdir(parents=True, exist_ok=True))

    async def thumbnail(
        self, user: AuthenticatedUser, raw_path: str, size: int | None, *, may_wake: bool = True
    ) -> Path:
        """The thumbnail file of ``raw_path``; ``NotAnImage`` (404) for anything else."""
        if not looks_like_image(raw_path):
            raise NotAnImage()
        original = await self._cache.ensure_cached(user, raw_path, may_wake=may_wake)
        edge = edge_for(size)
        target = self.directory / f"{original.key}-{edge}.jpg"
        if await anyio.to_thread.run_sync(target.exists):
            return target
        try:
            await anyio.to_thread.run_sync(
                render, original.file, target, edge, limiter=self._limiter
            )
        except Exception as exc:
            if _unreadable(exc):
                raise NotAnImage() from exc
            raise
        return target


def _unreadable(exc: Exception) -> bool:
    """Whether Pillow (imported by now: ``render`` ran) could not read the file as an image."""
    from PIL import Image, UnidentifiedImageError

    return isinstance(exc, UnidentifiedImageError | Image.DecompressionBombError | OSError)
