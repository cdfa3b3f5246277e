"""Readings as a plug takes them, for loads the tests define as functions of time.

``sample`` polls a load every ``interval`` seconds (plus jitter) and keeps the plug's counters the
way a Tapo does: ``today_wh`` and ``month_wh`` in whole Wh, counted from the load's exact energy,
reset at local midnight and at month start. ``exact_wh`` is the load's true energy over a span,
which the roll-ups must match.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.db.models import DeviceRole, TapoDevice
from balupi.services.energy import EnergyService
from balupi.services.energy.integration import Reading, Rollup
from balupi.services.energy.store import insert_samples, set_watermarks

BERLIN = ZoneInfo("Europe/Berlin")
POLL_SECONDS = 30

Load = Callable[[float], float]  # watts at an epoch second


def berlin(*fields: int) -> datetime:
    """A Berlin wall time (year, month, day[, hour[, minute]]) as an aware UTC datetime."""
    return datetime(*fields, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


def constant(watts: float) -> Load:
    return lambda _at: watts


def wavy(at: float) -> float:
    """A load that never sits still: 60 W, a 40 W swing every 20 minutes, a 7-minute ripple."""
    return 60 + 40 * math.sin(2 * math.pi * at / 1200) + 8 * math.sin(2 * math.pi * at / 420)


def exact_wh(load: Load, start: datetime, end: datetime, steps_per_second: int = 1) -> float:
    """The load's energy over ``[start, end)`` by a fine midpoint rule."""
    first, last = start.timestamp(), end.timestamp()
    count = int((last - first) * steps_per_second)
    width = (last - first) / count
    return sum(load(first + (i + 0.5) * width) for i in range(count)) * width / 3600


def sample(
    load: Load,
    start: datetime,
    end: datetime,
    *,
    interval: float = POLL_SECONDS,
    jitter: float = 0.0,
    seed: int = 7,
    zone: ZoneInfo = BERLIN,
) -> list[Reading]:
    """Readings in ``[start, end)`` with the plug's counters (reset at local midnight/month)."""
    rng = random.Random(seed)
    readings = []
    today = month = 0.0
    moment = start.timestamp()
    previous = moment
    day = datetime.fromtimestamp(moment, zone).date()
    while moment < end.timestamp():
        taken = round(moment + rng.random() * jitter, 3)
        local_day = datetime.fromtimestamp(taken, zone).date()
        if local_day != day:
            # Split the stretch at local midnight: the counter resets there.
            midnight = datetime(local_day.year, local_day.month, local_day.day, tzinfo=zone)
            cut = midnight.timestamp()
            before = _energy(load, previous, cut)
            today, month = today + before, month + before
            today = 0.0
            if local_day.month != day.month:
                month = 0.0
            previous, day = cut, local_day
        used = _energy(load, previous, taken)
        today, month = today + used, month + used
        readings.append(Reading(taken, round(load(taken) * 1000), int(today), int(month)))
        previous = taken
        moment += interval
    return readings


def _energy(load: Load, first: float, last: float) -> float:
    if last <= first:
        return 0.0
    count = max(1, int(last - first))
    width = (last - first) / count
    return sum(load(first + (i + 0.5) * width) for i in range(count)) * width / 3600


async def add_plug(
    sessions: async_sessionmaker[AsyncSession],
    name: str = "plug",
    role: DeviceRole = DeviceRole.GENERIC,
) -> int:
    async with sessions.begin() as session:
        count = len((await session.execute(TapoDevice.__table__.select())).all())
        device = TapoDevice(
            mac_address=f"AA:BB:CC:DD:EE:{count + 1:02X}", name=name, host="127.0.0.1", role=role
        )
        session.add(device)
        await session.flush()
        return device.id


async def store(
    sessions: async_sessionmaker[AsyncSession], device_id: int, readings: Sequence[Reading]
) -> None:
    async with sessions.begin() as session:
        await insert_samples(session, device_id, readings)


async def steady_hours(
    energy: EnergyService,
    sessions: async_sessionmaker[AsyncSession],
    device_id: int,
    watts: float,
    start: datetime,
    end: datetime,
) -> None:
    """Closed hours at a steady draw from ``start`` to ``end``, stored and priced as the job
    stores them, with the watermark moved: for tests about what is done with roll-ups."""
    power = round(watts * 1000)
    hours = []
    moment = start
    while moment < end:
        hours.append(Rollup(moment, power, round(watts), power, power, power, 120, 3600))
        moment += timedelta(hours=1)
    async with sessions.begin() as session:
        await energy.aggregator.store_hours(session, device_id, hours)
        await set_watermarks(session, device_id, hourly_done_until=end)
