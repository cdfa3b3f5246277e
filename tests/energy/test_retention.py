"""Retention: raw readings 7 days, hours a year, days forever; nothing not yet rolled up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.db.models import EnergyDaily, EnergyHourly, EnergySample
from balupi.services.energy import EnergyService
from balupi.services.energy.integration import Rollup
from balupi.services.energy.store import set_watermarks, upsert_days, upsert_hours
from tests.energy.plugs import add_plug, constant, sample, store


async def oldest_and_count(
    sessions: async_sessionmaker[AsyncSession], device_id: int
) -> tuple[datetime | None, int]:
    async with sessions() as session:
        oldest = await session.scalar(
            select(func.min(EnergySample.ts)).where(EnergySample.device_id == device_id)
        )
        count = await session.scalar(
            select(func.count()).where(EnergySample.device_id == device_id)
        )
        return oldest, count or 0


async def test_raw_readings_go_after_seven_days_once_rolled_up(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    now = clock.now()
    readings = sample(constant(40), now - timedelta(days=8), now, interval=300)
    rolled, late = await add_plug(sessions, "rolled"), await add_plug(sessions, "late")
    await store(sessions, rolled, readings)
    await energy.roll_up()
    await store(sessions, late, readings)  # arrived after the job ran: not rolled up yet

    report = await energy.prune()

    oldest, count = await oldest_and_count(sessions, rolled)
    assert oldest is not None
    assert now - timedelta(days=7) <= oldest < now - timedelta(days=7) + timedelta(minutes=5)
    assert count == 7 * 288
    assert report is not None
    assert report.samples_deleted == 288
    first_reading = datetime.fromtimestamp(readings[0].at, UTC)
    assert await oldest_and_count(sessions, late) == (first_reading, len(readings))

    await energy.roll_up()
    await energy.prune()
    assert (await oldest_and_count(sessions, late))[1] == 7 * 288


async def test_hours_go_after_a_year_by_whole_days_and_days_stay(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    calendar = energy.calendar
    today = calendar.local_date(clock.now())
    first = today - timedelta(days=400)
    kept, unrolled = await add_plug(sessions, "kept"), await add_plug(sessions, "unrolled")
    hours = [
        Rollup(calendar.day_start(first) + timedelta(hours=h), 1000, 1, 1000, 1000, 1000, 120, 3600)
        for h in range(400 * 24)
    ]
    days = [
        Rollup(
            calendar.day_start(first + timedelta(days=d)), 24_000, 24, 1000, 1000, 1000, 2880, 86400
        )
        for d in range(400)
    ]
    async with sessions.begin() as session:
        for plug in (kept, unrolled):
            await upsert_hours(session, plug, hours)
        await upsert_days(session, calendar, kept, days)
        await set_watermarks(session, kept, hourly_done_until=clock.now(), daily_done_until=today)

    await energy.prune()

    async with sessions() as session:
        oldest_hour = await session.scalar(
            select(func.min(EnergyHourly.hour_start)).where(EnergyHourly.device_id == kept)
        )
        unrolled_hours = await session.scalar(
            select(func.count()).where(EnergyHourly.device_id == unrolled)
        )
        stored_days = await session.scalar(select(func.count()).select_from(EnergyDaily))
    assert oldest_hour == calendar.day_start(today - timedelta(days=365))
    assert unrolled_hours == 400 * 24  # its days are not rolled up yet: every hour stays
    assert stored_days == 400
