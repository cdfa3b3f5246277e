"""Fixtures for the data layer: real SQLite files under ``tmp_path``, engines always disposed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from balupi.db import create_engine, default_database_url, upgrade_to_head


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The URL of a database file that does not exist yet."""
    return default_database_url(tmp_path)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database migrated to head, the way the service starts."""
    await asyncio.to_thread(upgrade_to_head, database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()
