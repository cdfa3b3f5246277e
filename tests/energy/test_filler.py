"""The history filler writes what the roll-up job would have written, and only the past."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.cli import main
from balupi.clock import ManualClock
from balupi.db.models import EnergyDaily, EnergyHourly, EnergySample, TapoDevice
from balupi.services.energy import EnergyService
from balupi.sim.energy import HistoryFiller
from tests.energy.plugs import POLL_SECONDS, add_plug, berlin, constant, sample, store


def filler(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> HistoryFiller:
    return HistoryFiller(energy, sessions, clock, poll_seconds=POLL_SECONDS, seed=5)


async def rows(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[tuple[object, ...]], ...]:
    async with sessions() as session:
        hours = await session.execute(
            select(EnergyHourly.__table__).order_by("device_id", "hour_start")
        )
        days = await session.execute(select(EnergyDaily.__table__).order_by("device_id", "day"))
        return [tuple(r) for r in hours.all()], [tuple(r) for r in days.all()]


async def test_filled_roll_ups_are_what_the_job_makes_of_the_same_readings(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    report = await filler(energy, sessions, clock).fill(2)
    filled = await rows(sessions)
    assert report.devices == 2  # the demo's NAS and monitor plugs
    assert report.hours == 2 * (2 * 24 + 11)  # up to the last settled hour, 11:00
    assert len(await energy.tariffs.all()) == 3  # day, night, and a new day rate from today
    assert all(hour[-1] is not None for hour in filled[0])  # every hour priced

    # Forget every roll-up and let the job redo them from the raw readings the filler kept.
    async with sessions.begin() as session:
        await session.execute(delete(EnergyHourly))
        await session.execute(delete(EnergyDaily))
        await session.execute(
            update(TapoDevice).values(hourly_done_until=None, daily_done_until=None)
        )
    await energy.roll_up()

    assert await rows(sessions) == filled


async def test_the_filler_fills_only_before_a_plugs_first_data(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    plug = await add_plug(sessions, "real")
    real = sample(constant(33), berlin(2026, 1, 14, 6), berlin(2026, 1, 14, 11, 58))
    await store(sessions, plug, real)

    await filler(energy, sessions, clock).fill(3, tariffs=False)

    async with sessions() as session:
        first_real = await session.scalar(
            select(func.min(EnergySample.ts)).where(
                EnergySample.device_id == plug, EnergySample.ts >= berlin(2026, 1, 14, 6)
            )
        )
        newest_filled = await session.scalar(
            select(func.max(EnergyHourly.hour_start)).where(
                EnergyHourly.device_id == plug, EnergyHourly.hour_start < berlin(2026, 1, 14, 6)
            )
        )
        stored = await session.scalar(
            select(func.count()).where(
                EnergySample.device_id == plug, EnergySample.ts >= berlin(2026, 1, 14, 6)
            )
        )
        oldest_day = await session.scalar(select(func.min(EnergyDaily.day)))
    assert first_real == berlin(2026, 1, 14, 6)
    assert stored == len(real)  # the real readings untouched, nothing added beside them
    assert newest_filled == berlin(2026, 1, 14, 5)  # up to the hour of the first real data
    assert oldest_day == date(2026, 1, 11)
    # The job rolls up the real readings after the filled days, as it would have anyway.
    async with sessions() as session:
        real_hours = await session.scalars(
            select(EnergyHourly.energy_mwh).where(
                EnergyHourly.device_id == plug, EnergyHourly.hour_start >= berlin(2026, 1, 14, 6)
            )
        )
        assert list(real_hours)[1:] == [33_000] * 4


def test_the_command_fills_a_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", "energy-history", "--days", "1", "--data-dir", str(tmp_path)]) == 0
    assert "filled 1 days for 2 plugs" in capsys.readouterr().out
    assert (tmp_path / "balupi.db").stat().st_size > 0
