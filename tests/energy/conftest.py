"""Fixtures for the energy tests: a migrated SQLite file per test, a manual clock in Berlin.

The database is migrated once per run and copied for each test (migrating takes longer than most
of these tests). ``energy`` is the real ``EnergyService`` on that file with the test's clock;
nothing runs in the background, tests call the jobs themselves.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.db.engine import create_engine, create_sessionmaker
from balupi.db.migrate import upgrade_to_head
from balupi.services.energy import EnergyService
from tests.energy.plugs import BERLIN, POLL_SECONDS


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database at head, migrated once per run; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("energy-template") / "energy.db"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def engine(tmp_path: Path, migrated_database: Path) -> AsyncIterator[AsyncEngine]:
    path = tmp_path / "energy.db"
    shutil.copyfile(migrated_database, path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def clock() -> ManualClock:
    """Wednesday 14 January 2026, 12:00 in Berlin (CET, UTC+1)."""
    return ManualClock(datetime(2026, 1, 14, 12, 0, tzinfo=BERLIN).astimezone(UTC))


@pytest.fixture
def energy(sessions: async_sessionmaker[AsyncSession], clock: ManualClock) -> EnergyService:
    return EnergyService(sessions, clock, BERLIN, poll_seconds=POLL_SECONDS)
