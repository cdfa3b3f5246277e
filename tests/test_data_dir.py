"""A started BaluPi has one thumbnails folder: the one its thumbnailer writes to."""

from __future__ import annotations

from fastapi import FastAPI

from balupi.config import Settings


async def test_one_thumbnails_folder_after_start(app: FastAPI, settings: Settings) -> None:
    folders = sorted(
        path.relative_to(settings.data_dir).as_posix()
        for path in settings.data_dir.rglob("thumbnails")
    )
    assert folders == ["cache/thumbnails"]
    assert app.state.services.thumbnails.directory == settings.thumbnails_dir
