"""Fixtures for the energy tests: a migrated SQLite file per test, a manual clock in Berlin.

The database is migrated once per run and copied for each test (migrating takes longer than most
of these tests). ``energy`` is the real ``EnergyService`` on that file with the test's clock;
nothing runs in the background, tests call the jobs themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.services.energy import EnergyService
from tests.energy.plugs import BERLIN, POLL_SECONDS


@pytest.fixture
def clock() -> ManualClock:
    """Wednesday 14 January 2026, 12:00 in Berlin (CET, UTC+1)."""
    return ManualClock(datetime(2026, 1, 14, 12, 0, tzinfo=BERLIN).astimezone(UTC))


@pytest.fixture
def energy(sessions: async_sessionmaker[AsyncSession], clock: ManualClock) -> EnergyService:
    return EnergyService(sessions, clock, BERLIN, poll_seconds=POLL_SECONDS)
