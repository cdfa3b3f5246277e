"""The roll-up job: closed hours once, backfill after downtime, local days across DST."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.db.models import EnergyDaily, EnergyHourly, TapoDevice
from balupi.services.energy import EnergyService, RollupPolicy
from tests.energy.plugs import (
    BERLIN,
    POLL_SECONDS,
    add_plug,
    berlin,
    constant,
    exact_wh,
    sample,
    store,
    wavy,
)


async def hourly(sessions: async_sessionmaker[AsyncSession]) -> list[EnergyHourly]:
    async with sessions() as session:
        rows = await session.scalars(select(EnergyHourly).order_by(EnergyHourly.hour_start))
        return list(rows)


async def daily(sessions: async_sessionmaker[AsyncSession]) -> list[EnergyDaily]:
    async with sessions() as session:
        return list(await session.scalars(select(EnergyDaily).order_by(EnergyDaily.day)))


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[object, ...]]:
    async with sessions() as session:
        tables = [
            select(EnergyHourly.__table__).order_by("device_id", "hour_start"),
            select(EnergyDaily.__table__).order_by("device_id", "day"),
            select(TapoDevice.hourly_done_until, TapoDevice.daily_done_until),
        ]
        return [tuple(map(tuple, (await session.execute(query)).all())) for query in tables]


async def test_closed_hours_match_the_integral_of_the_load_within_one_percent(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    plug = await add_plug(sessions)
    start = berlin(2026, 1, 14, 8)
    await store(sessions, plug, sample(wavy, start, berlin(2026, 1, 14, 14, 2), jitter=0.8))
    clock.set(berlin(2026, 1, 14, 14, 5))

    report = await energy.roll_up()

    assert report is not None
    assert report.hours_written == 6
    rows = await hourly(sessions)
    assert [row.hour_start for row in rows] == [start + timedelta(hours=h) for h in range(6)]
    for row in rows:
        truth = exact_wh(wavy, row.hour_start, row.hour_start + timedelta(hours=1))
        assert row.energy_mwh / 1000 == pytest.approx(truth, rel=0.01)
        assert row.counter_wh == pytest.approx(truth, abs=1.5)
    assert all(row.covered_seconds >= 3599 for row in rows)  # 14:00 is still open


async def test_running_the_job_twice_changes_nothing(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    for name in ("nas", "monitor"):
        plug = await add_plug(sessions, name)
        await store(sessions, plug, sample(wavy, berlin(2026, 1, 12, 22), berlin(2026, 1, 14, 9)))
    clock.set(berlin(2026, 1, 14, 9, 30))
    first = await energy.roll_up()
    before = await snapshot(sessions)

    again = await energy.roll_up()

    assert first is not None
    assert first.hours_written == 2 * 35
    assert first.days_written == 2 * 2
    assert again is not None
    assert (again.hours_written, again.days_written) == (0, 0)
    assert await snapshot(sessions) == before


async def test_hours_missed_while_down_are_backfilled(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    """The job last ran at 10:05; the Pi was off from 10:30 to 15:00; it is back at 17:10."""
    plug = await add_plug(sessions)
    await store(
        sessions, plug, sample(constant(50), berlin(2026, 1, 14, 8), berlin(2026, 1, 14, 10, 30))
    )
    clock.set(berlin(2026, 1, 14, 10, 5))
    await energy.roll_up()
    assert len(await hourly(sessions)) == 2
    await store(
        sessions, plug, sample(constant(80), berlin(2026, 1, 14, 15), berlin(2026, 1, 14, 17, 5))
    )

    clock.set(berlin(2026, 1, 14, 17, 10))
    await energy.roll_up()

    rows = {row.hour_start: row for row in await hourly(sessions)}
    assert sorted(rows) == [berlin(2026, 1, 14, h) for h in (8, 9, 10, 15, 16)]
    assert rows[berlin(2026, 1, 14, 10)].covered_seconds == pytest.approx(1770, abs=1)
    assert rows[berlin(2026, 1, 14, 10)].energy_mwh == pytest.approx(50 * 1770 / 3.6, abs=1)
    assert rows[berlin(2026, 1, 14, 16)].energy_mwh == 80_000
    async with sessions() as session:
        device = await session.get(TapoDevice, plug)
        assert device is not None
        assert device.hourly_done_until == berlin(2026, 1, 14, 17)


async def test_backfill_is_done_in_bounded_batches(
    sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    policy = RollupPolicy.for_poll_interval(POLL_SECONDS, hours_per_batch=3, max_batches=2)
    energy = EnergyService(sessions, clock, BERLIN, poll_seconds=POLL_SECONDS, policy=policy)
    plug = await add_plug(sessions)
    await store(
        sessions, plug, sample(constant(20), berlin(2026, 1, 14, 0), berlin(2026, 1, 14, 11))
    )
    clock.set(berlin(2026, 1, 14, 11, 5))

    runs = [await energy.roll_up() for _ in range(3)]

    assert [(r.hours_written, r.caught_up) for r in runs if r] == [
        (6, False),
        (5, False),
        (0, True),
    ]
    assert len(await hourly(sessions)) == 11


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 3, 30), 24), (date(2026, 10, 25), 25)],
)
async def test_local_days_have_23_24_or_25_hours(
    energy: EnergyService,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    day: date,
    hours: int,
) -> None:
    plug = await add_plug(sessions)
    start = berlin(day.year, day.month, day.day) - timedelta(minutes=5)
    end = berlin(day.year, day.month, day.day + 1) + timedelta(minutes=5)
    await store(sessions, plug, sample(constant(100), start, end))
    clock.set(end + timedelta(hours=1))

    await energy.roll_up()

    rows = {row.day: row for row in await daily(sessions)}
    assert rows[day].covered_seconds == hours * 3600
    assert rows[day].energy_mwh == hours * 100_000
    assert rows[day].sample_count == hours * 120
    assert rows[day].counter_wh == pytest.approx(hours * 100, abs=6)
    in_day = [
        row for row in await hourly(sessions) if row.hour_start.astimezone(BERLIN).date() == day
    ]
    assert len(in_day) == hours


async def test_a_day_waits_for_its_last_hour(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    plug = await add_plug(sessions)
    await store(
        sessions, plug, sample(constant(10), berlin(2026, 1, 13, 22), berlin(2026, 1, 14, 1))
    )
    clock.set(berlin(2026, 1, 14, 0, 1))  # the 23:00 hour is not settled yet
    await energy.roll_up()
    assert await daily(sessions) == []

    clock.set(berlin(2026, 1, 14, 0, 5))
    await energy.roll_up()

    (day,) = await daily(sessions)
    assert day.day == date(2026, 1, 13)
    assert day.energy_mwh == 20_000


async def test_a_midnight_reset_leaves_the_day_counters_positive(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    plug = await add_plug(sessions)
    readings = sample(constant(250), berlin(2026, 1, 12, 23), berlin(2026, 1, 14, 1))
    await store(sessions, plug, [r._replace(month_wh=None) for r in readings])
    clock.set(berlin(2026, 1, 14, 2))

    await energy.roll_up()

    assert all(row.counter_wh is not None and row.counter_wh >= 0 for row in await hourly(sessions))
    (day,) = [row for row in await daily(sessions) if row.day == date(2026, 1, 13)]
    assert day.energy_mwh == 24 * 250_000
    assert day.counter_wh == pytest.approx(6000, abs=10)
