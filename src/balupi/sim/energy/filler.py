"""The history filler: months of realistic readings for the plugs, so charts and costs have data.

``balupi sim energy-history --days 400`` (and the benchmark) use it. For every plug it simulates
what the plug would have reported (``plug.py``, for a household load of ``loads.py``): a reading
every poll interval (with the poller's jitter and now and then an outage of a few minutes), the
draw of the load with noise, and the plug's own ``today_wh`` / ``month_wh`` counters, which keep
counting through outages and reset at local midnight and month start.

**It writes what the roll-up job would have written, by running the job's own code**: the
readings go through ``integration.integrate`` and ``EnergyAggregator.store_hours`` (which prices
them with the stored tariffs) and the days through ``EnergyAggregator.store_days``; the raw
readings of the last 7 days are stored as well, and everything after the filled span is left to
the job itself. Older raw readings are integrated in memory and never stored, which is what
retention would have done with them.

It only ever fills the past *before* a plug's first stored data (or, for a plug with none, up to
the last closed hour), so it never touches a real reading or roll-up. The filled history reaches
that first data: whole hours up to its hour, and that hour's readings before it as raw readings
for the job, so a demo's charts have no hole between its history and its live data.

The NAS plug's filled readings also give the NAS link a past (``link.py``): ``NasTransition``
rows before the link's first real one, awake while the plug draws at least the standby threshold,
asleep below, so the awake/asleep timeline and the savings have data where the plug history has.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.db.models import DeviceRole, EnergyDaily, EnergyHourly, EnergySample, TapoDevice
from balupi.services.energy.calendar import HOUR, floor_hour
from balupi.services.energy.integration import Reading, integrate
from balupi.services.energy.service import EnergyService
from balupi.services.energy.store import (
    DeviceInfo,
    insert_samples,
    list_devices,
    set_watermarks,
)
from balupi.sim.energy.link import LinkTrace, store_link_history
from balupi.sim.energy.loads import GENERIC_LOADS, ROLE_LOADS, demo_tariffs
from balupi.sim.energy.plug import PlugSimulator
from balupi.types import DeviceId

CHUNK_DAYS: Final = 7


@dataclass(frozen=True, slots=True)
class FillReport:
    devices: int
    hours: int
    days: int
    samples: int


DEMO_PLUGS: Final = (
    ("NAS", DeviceRole.NAS),
    ("Monitor", DeviceRole.MONITOR),
)


class HistoryFiller:
    """Fills the plugs' past (see the module docstring)."""

    def __init__(
        self,
        energy: EnergyService,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        poll_seconds: float,
        seed: int = 1,
    ) -> None:
        self._energy = energy
        self._sessions = sessions
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._seed = seed

    async def fill(self, days: int, *, plugs: int = 0, tariffs: bool = True) -> FillReport:
        """Fill ``days`` days for every plug; with no plugs stored, first add ``plugs`` of them
        (the demo's NAS and monitor when ``plugs`` is 0). With ``tariffs`` and none stored, add
        demo tariffs first so the history has costs."""
        calendar = self._energy.calendar
        first_day = calendar.local_date(self._clock.now()) - timedelta(days=days)
        async with self._sessions.begin() as session:
            devices = await list_devices(session)
            if not devices:
                devices = await self._add_plugs(session, plugs)
        if tariffs and not await self._energy.tariffs.all():
            for draft in demo_tariffs(first_day, calendar.local_date(self._clock.now())):
                await self._energy.tariffs.create(draft)
        totals = FillReport(len(devices), 0, 0, 0)
        for index, device in enumerate(devices):
            trace = LinkTrace() if device.role is DeviceRole.NAS else None
            report = await self._fill_device(device, index, first_day, trace)
            if trace is not None:
                await store_link_history(self._sessions, trace)
            totals = FillReport(
                totals.devices,
                totals.hours + report.hours,
                totals.days + report.days,
                totals.samples + report.samples,
            )
        await self._energy.aggregator.run()
        await self._energy.retention.prune()
        return totals

    async def _add_plugs(self, session: AsyncSession, count: int) -> list[DeviceInfo]:
        specs: Sequence[tuple[str, DeviceRole]] = DEMO_PLUGS
        if count:
            generic = [(f"Plug {n}", DeviceRole.GENERIC) for n in range(3, count + 1)]
            specs = [*DEMO_PLUGS, *generic][:count]
        for number, (name, role) in enumerate(specs, start=1):
            session.add(
                TapoDevice(
                    # Locally administered MACs: never a real plug's.
                    mac_address=f"02:42:00:00:00:{number:02X}",
                    name=name,
                    host="127.0.0.1",
                    model="P110",
                    role=role,
                )
            )
        await session.flush()
        return await list_devices(session)

    async def _fill_device(
        self, device: DeviceInfo, index: int, first_day: date, trace: LinkTrace | None = None
    ) -> FillReport:
        energy = self._energy
        calendar, aggregator = energy.calendar, energy.aggregator
        start = calendar.day_start(first_day)
        async with self._sessions() as session:
            existing = await _earliest_data(session, calendar.day_start, device.id)
        end = floor_hour(existing) if existing else aggregator.closed_until()
        if start >= end:
            return FillReport(1, 0, 0, 0)
        # Raw readings are kept from here on, up to the first real data or now (the job rolls up
        # what follows ``end``), unless the job has closed the hour of ``end`` already.
        keep_raw_from = energy.retention.raw_horizon() - timedelta(seconds=energy.policy.max_gap_s)
        keep_raw_until = existing or self._clock.now()
        if device.hourly_done_until is not None and device.hourly_done_until > end:
            keep_raw_until = end
        plan = ROLE_LOADS.get(device.role) or GENERIC_LOADS[index % len(GENERIC_LOADS)]
        simulator = PlugSimulator(
            plan,
            calendar.zone,
            interval=self._poll_seconds,
            rng=random.Random(f"{self._seed}:{device.id}"),
        )
        stream = simulator.readings(start, keep_raw_until + HOUR)
        pending: list[Reading] = []
        hours = samples = 0
        chunk_start = start
        while chunk_start < end:
            chunk_end = min(chunk_start + timedelta(days=CHUNK_DAYS), end)
            pending = _pull_until(stream, pending, chunk_end.timestamp())
            rollups = integrate(
                pending,
                width=3600,
                start=chunk_start.timestamp(),
                end=chunk_end.timestamp(),
                max_gap=energy.policy.max_gap_s,
            )
            raw_from = max(keep_raw_from, chunk_start).timestamp()
            raw_until = min(chunk_end, keep_raw_until).timestamp()
            raw = [r for r in pending if raw_from <= r.at < raw_until]
            if trace is not None:
                trace.feed(r for r in pending if chunk_start.timestamp() <= r.at < raw_until)
            async with energy.lock, self._sessions.begin() as session:
                await aggregator.store_hours(session, device.id, rollups)
                await insert_samples(session, device.id, raw)
            hours += len(rollups)
            samples += len(raw)
            pending = _tail(pending, chunk_end.timestamp())
            chunk_start = chunk_end
        if keep_raw_until > end:  # the readings after the filled hours, for the job to roll up
            pending = _pull_until(stream, pending, keep_raw_until.timestamp())
            raw = [r for r in pending if end.timestamp() <= r.at < keep_raw_until.timestamp()]
            if trace is not None:
                trace.feed(raw)
            async with self._sessions.begin() as session:
                await insert_samples(session, device.id, raw)
            samples += len(raw)
        days = await self._store_days(device, first_day, calendar.local_date(end), end)
        return FillReport(1, hours, days, samples)

    async def _store_days(self, device: DeviceInfo, first: date, stop: date, end: datetime) -> int:
        """Roll up the filled days and move the watermarks to where the job takes over."""
        energy = self._energy
        written = 0
        day = first
        while day < stop:
            chunk_end = min(day + timedelta(days=31), stop)
            async with energy.lock, self._sessions.begin() as session:
                written += len(
                    await energy.aggregator.store_days(session, device.id, day, chunk_end)
                )
            day = chunk_end
        async with self._sessions.begin() as session:
            await set_watermarks(
                session,
                device.id,
                hourly_done_until=None if device.hourly_done_until else end,
                daily_done_until=None if device.daily_done_until else stop,
            )
        return written


def _pull_until(stream: Iterator[Reading], pending: list[Reading], until: float) -> list[Reading]:
    """Take readings from ``stream`` until one lies at or beyond ``until`` (bridging the edge)."""
    while not pending or pending[-1].at < until:
        reading = next(stream, None)
        if reading is None:
            break
        pending.append(reading)
    return pending


def _tail(pending: list[Reading], edge: float) -> list[Reading]:
    """The readings the next chunk still needs: the last one before ``edge`` and all after."""
    index = bisect.bisect_left([r.at for r in pending], edge)
    return pending[max(index - 1, 0) :]


async def _earliest_data(
    session: AsyncSession, day_start: Callable[[date], datetime], device_id: DeviceId
) -> datetime | None:
    """The first instant the plug has any stored reading or roll-up for."""
    sample = await session.scalar(
        select(func.min(EnergySample.ts)).where(EnergySample.device_id == device_id)
    )
    hour = await session.scalar(
        select(func.min(EnergyHourly.hour_start)).where(EnergyHourly.device_id == device_id)
    )
    day = await session.scalar(
        select(func.min(EnergyDaily.day)).where(EnergyDaily.device_id == device_id)
    )
    found = [moment for moment in (sample, hour) if moment is not None]
    if day is not None:
        found.append(day_start(day))
    return min(found) if found else None
