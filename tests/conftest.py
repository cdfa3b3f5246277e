"""Fixtures shared by the whole suite: settings in a temp dir and a running BaluPi."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from balupi.app import create_app
from balupi.config import Settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Development settings with everything under ``tmp_path``; the environment can't leak in."""
    monkeypatch.delenv("BALUPI_CONFIG", raising=False)
    return Settings(data_dir=tmp_path / "data", _env_prefix="BALUPI_TEST_UNUSED_")  # type: ignore[call-arg]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """A BaluPi app whose lifespan (services, scheduler, database) is running."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://balupi.test") as c:
        yield c
