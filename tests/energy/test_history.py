"""History: the resolution a range gets, slots that agree with hours, the stacked total."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.services.energy import DeviceNotFound, EnergyService, HistoryRange, Resolution
from balupi.services.energy.errors import WindowInvalid
from tests.energy.plugs import (
    BERLIN,
    POLL_SECONDS,
    add_plug,
    berlin,
    sample,
    steady_hours,
    store,
    wavy,
)


@pytest.fixture
async def two_plugs(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> list[int]:
    """Two plugs with raw readings for the last 26 hours, rolled up; now is 14 Jan, 12:00."""
    plugs = []
    for seed in (1, 2):
        plug = await add_plug(sessions, f"plug {seed}")
        readings = sample(
            wavy, clock.now() - timedelta(hours=26), clock.now(), jitter=0.8, seed=seed
        )
        await store(sessions, plug, readings)
        plugs.append(plug)
    await energy.roll_up()
    return plugs


async def test_a_day_is_five_minute_slots_that_add_up_to_the_hours(
    energy: EnergyService, two_plugs: list[int], clock: ManualClock
) -> None:
    history = await energy.history.history(HistoryRange.DAY)
    hours = await energy.history.history(HistoryRange.WEEK)

    assert history.resolution is Resolution.FIVE_MINUTES
    assert history.start == clock.now() - timedelta(days=1)
    assert history.end == clock.now()
    for plug in two_plugs:
        slots = history.series[plug]
        assert len(slots) == 288
        for hour in hours.series[plug]:
            if hour.start < history.start:
                continue
            inside = [s for s in slots if hour.start <= s.start < hour.start + timedelta(hours=1)]
            assert len(inside) == 12
            assert sum(s.energy_mwh for s in inside) == pytest.approx(hour.energy_mwh, abs=12)
            assert sum(s.sample_count for s in inside) == hour.sample_count
    for point in history.total:
        parts = [next(s for s in history.series[p] if s.start == point.start) for p in two_plugs]
        assert point.energy_mwh == sum(part.energy_mwh for part in parts)
        assert point.avg_power_mw == sum(part.avg_power_mw for part in parts)


async def test_longer_ranges_use_hours_and_local_days(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    plug = await add_plug(sessions)
    await steady_hours(energy, sessions, plug, 10, berlin(2025, 12, 1), berlin(2026, 1, 14, 12))
    await energy.roll_up()

    week = await energy.history.history(HistoryRange.WEEK)
    month = await energy.history.history(HistoryRange.MONTH)
    year = await energy.history.history(HistoryRange.YEAR, plug)
    old_day = await energy.history.history(
        HistoryRange.DAY, start=berlin(2025, 12, 24), end=berlin(2025, 12, 25)
    )

    assert week.resolution is Resolution.HOUR
    assert len(week.series[plug]) == 7 * 24
    assert month.resolution is Resolution.DAY
    days = [point.start.astimezone(BERLIN).date() for point in month.series[plug]]
    assert days[0] == date(2025, 12, 15)
    assert days[-1] == date(2026, 1, 14)  # today so far, from its closed hours
    assert month.series[plug][-1].energy_mwh == 12 * 10_000
    assert month.series[plug][0].energy_mwh == 24 * 10_000
    assert year.resolution is Resolution.DAY
    assert len(year.series[plug]) == 31 + 14
    assert old_day.resolution is Resolution.HOUR  # raw readings are gone after seven days
    assert len(old_day.series[plug]) == 24


async def test_the_slots_kept_between_requests_match_a_fresh_answer(
    energy: EnergyService,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    two_plugs: list[int],
) -> None:
    await energy.history.history(HistoryRange.DAY)
    for plug in two_plugs:
        later = sample(wavy, clock.now(), clock.now() + timedelta(minutes=20), jitter=0.8)
        await store(sessions, plug, later)
    clock.advance(20 * 60)

    again = await energy.history.history(HistoryRange.DAY)
    fresh = EnergyService(sessions, clock, BERLIN, poll_seconds=POLL_SECONDS)

    assert again == await fresh.history.history(HistoryRange.DAY)
    assert len(again.series[two_plugs[0]]) == 288


async def test_bad_windows_and_unknown_plugs_are_refused(
    energy: EnergyService, clock: ManualClock
) -> None:
    now = clock.now()
    with pytest.raises(WindowInvalid, match="before"):
        await energy.history.history(HistoryRange.DAY, start=now, end=now)
    with pytest.raises(WindowInvalid, match="at most"):
        await energy.history.history(HistoryRange.DAY, start=now - timedelta(days=3))
    with pytest.raises(DeviceNotFound):
        await energy.history.history(HistoryRange.WEEK, device_id=99)
