"""Thumbnails: Pillow, EXIF orientation, 404 for what is not an image, pending uploads too."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from balupi.services.cache import LocalFile
from tests.cache.conftest import CacheHome


def _jpeg(width: int, height: int, orientation: int | None = None) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


async def _thumbnail(cache_home: CacheHome, path: str, size: int) -> tuple[int, bytes]:
    response = await cache_home.home.pi.get(
        f"/api/files/thumbnail/{path}", params={"size": size}, headers=cache_home.auth("maria")
    )
    return response.status_code, response.content


async def test_thumbnail_respects_exif_orientation(cache_home: CacheHome) -> None:
    # 400×200 stored, orientation 6: shown rotated by 90°, i.e. 200 wide and 400 high
    cache_home.put("Shared/pics/rotated.jpg", _jpeg(400, 200, orientation=6))
    status, body = await _thumbnail(cache_home, "Shared/pics/rotated.jpg", 100)
    assert status == 200
    with Image.open(io.BytesIO(body)) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (64, 128)  # 100 rounds up to the 128 edge
    before = cache_home.nas_requests()
    again = await _thumbnail(cache_home, "Shared/pics/rotated.jpg", 128)
    assert again == (200, body)
    assert cache_home.nas_requests() == before
    assert len(list(cache_home.cache.store.root.glob("thumbnails/*.jpg"))) == 1


async def test_not_an_image_is_404(cache_home: CacheHome) -> None:
    cache_home.put("Shared/notes.txt", b"just text")
    assert (await _thumbnail(cache_home, "Shared/notes.txt", 64))[0] == 404
    cache_home.put("Shared/fake.jpg", b"not really a jpeg")
    assert (await _thumbnail(cache_home, "Shared/fake.jpg", 64))[0] == 404
    assert (await _thumbnail(cache_home, "bob/x.jpg", 64))[0] == 403


async def test_thumbnail_of_a_pending_upload(cache_home: CacheHome) -> None:
    upload = cache_home.storage.parent / "upload.jpg"
    upload.write_bytes(_jpeg(300, 300))
    cache_home.cache.local.register(
        "maria/new.jpg", LocalFile(upload, upload.stat().st_size, datetime.now(UTC), "ab" * 32)
    )
    await cache_home.home.nas_sleeps()
    status, body = await _thumbnail(cache_home, "maria/new.jpg", 64)
    assert status == 200
    with Image.open(io.BytesIO(body)) as thumb:
        assert thumb.size == (64, 64)
