"""The history filler: months of realistic readings for the plugs, so charts and costs have data.

``balupi sim energy-history --days 400`` (and the benchmark) use it. For every plug it simulates
what the plug would have reported: a reading every poll interval (with the poller's jitter and
now and then an outage of a few minutes), the draw of a household load with noise, and the plug's
own ``today_wh`` / ``month_wh`` counters, which keep counting through outages and reset at local
midnight and month start.

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

The NAS plug's filled readings also give the NAS link a past (``NasTransition`` rows before the
link's first real one): awake while the plug draws at least the standby threshold, asleep below,
so the awake/asleep timeline and the savings have data where the plug history has.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.db.models import (
    DeviceRole,
    EnergyDaily,
    EnergyHourly,
    EnergySample,
    NasState,
    NasTransition,
    Server,
    TapoDevice,
)
from balupi.services.energy.calendar import HOUR, floor_hour
from balupi.services.energy.integration import Reading, integrate
from balupi.services.energy.service import EnergyService
from balupi.services.energy.store import (
    DeviceInfo,
    insert_samples,
    list_devices,
    set_watermarks,
)
from balupi.services.energy.tariffs import TariffDraft
from balupi.services.nas.power import PowerThresholds

SECONDS_PER_DAY: Final = 86400
POLL_JITTER_S: Final = 0.8
OUTAGES_PER_DAY: Final = 0.03
CHUNK_DAYS: Final = 7
# The NAS plug's default standby threshold: at or above it the NAS is running.
AWAKE_FROM_MW: Final = round(PowerThresholds().standby_below_w * 1000)
LINK_EVIDENCE: Final = "demo history: the NAS plug drew"


@dataclass(frozen=True, slots=True)
class Step:
    """From ``second`` of the local day on, the load draws ``watts`` (give or take ``noise``)."""

    second: int
    watts: float
    noise: float = 0.0


DayPlan = Callable[[date, random.Random], list[Step]]


def _at(hours: float, watts: float, noise: float = 0.0) -> Step:
    return Step(round(hours * 3600), watts, noise)


def nas_day(day: date, rng: random.Random) -> list[Step]:
    """A NAS that sleeps at 2 W, wakes most evenings (and weekend mornings) to ~50 W, works in
    bursts at ~85 W, and runs a backup on Sunday nights."""
    steps = [_at(0, 1.8, 0.05)]
    if day.weekday() == 6:
        steps += [_at(3, 70, 4), _at(3.5 + rng.random() / 2, 1.8, 0.05)]
    if day.weekday() >= 5 and rng.random() < 0.6:
        steps += _awake(rng, 10 + rng.random(), 13 + rng.random())
    if rng.random() < 0.85:
        steps += _awake(rng, 18 + rng.random() * 1.5, 22.5 + rng.random() * 1.4)
    return steps


def _awake(rng: random.Random, wake: float, sleep: float) -> list[Step]:
    steps = [_at(wake, 95, 3), _at(wake + 0.04, 52, 2)]
    moment = wake + 0.1
    while True:
        moment += rng.uniform(0.2, 1.0)
        burst = rng.uniform(0.08, 0.4)
        if moment + burst >= sleep:
            break
        steps += [_at(moment, 85, 6), _at(moment + burst, 52, 2)]
        moment += burst
    return [*steps, _at(sleep, 1.8, 0.05)]


def monitor_day(day: date, rng: random.Random) -> list[Step]:
    """A monitor: working hours on weekdays, sometimes an evening, 0.4 W in standby."""
    steps = [_at(0, 0.4, 0.02)]
    if day.weekday() < 5:
        start = 8.25 + rng.random() / 2
        lunch = 12 + rng.random() / 2
        steps += [
            _at(start, 24, 0.8),
            _at(lunch, 0.4, 0.02),
            _at(lunch + 0.75, 24, 0.8),
            _at(17.5 + rng.random(), 0.4, 0.02),
        ]
    if rng.random() < 0.3:
        steps += [_at(20, 24, 0.8), _at(21.5 + rng.random(), 0.4, 0.02)]
    return steps


def fridge_day(day: date, rng: random.Random) -> list[Step]:
    """A fridge's compressor: about 15 minutes at 90 W every 45 minutes, all day."""
    steps = [_at(0, 1.5, 0.1)]
    moment = rng.random() * 0.75
    while moment < 23.5:
        on = rng.uniform(0.2, 0.3)
        steps += [_at(moment, 90, 3), _at(moment + on, 1.5, 0.1)]
        moment += on + rng.uniform(0.45, 0.55)
    return steps


def router_day(day: date, rng: random.Random) -> list[Step]:
    """A router: 7.5 W, day and night."""
    return [_at(0, 7.5, 0.3)]


def desk_day(day: date, rng: random.Random) -> list[Step]:
    """A desktop computer on weekdays' working hours, 1 W off."""
    steps = [_at(0, 1.0, 0.05)]
    if day.weekday() < 5:
        steps += [_at(8.5 + rng.random(), 65, 15), _at(17 + rng.random(), 1.0, 0.05)]
    return steps


def tv_day(day: date, rng: random.Random) -> list[Step]:
    """A television most evenings."""
    steps = [_at(0, 0.5, 0.02)]
    if rng.random() < 0.8:
        steps += [_at(19.5 + rng.random(), 80, 4), _at(22 + rng.random(), 0.5, 0.02)]
    return steps


# Generic plugs take these in turn; the NAS and the monitor plug have their own.
GENERIC_LOADS: Final[tuple[DayPlan, ...]] = (fridge_day, router_day, desk_day, tv_day)
ROLE_LOADS: Final[dict[DeviceRole, DayPlan]] = {
    DeviceRole.NAS: nas_day,
    DeviceRole.MONITOR: monitor_day,
}


class PlugSimulator:
    """Readings as a Tapo plug would give them for a load (see the module docstring)."""

    def __init__(
        self,
        plan: DayPlan,
        zone: ZoneInfo,
        *,
        interval: float,
        rng: random.Random,
        outages_per_day: float = OUTAGES_PER_DAY,
    ) -> None:
        self._plan = plan
        self._zone = zone
        self._interval = interval
        self._rng = rng
        self._outages_per_day = outages_per_day

    def readings(self, start: datetime, end: datetime) -> Iterator[Reading]:
        """Readings from ``start`` to ``end``, in time order, counters starting at zero."""
        moment, stop = start.timestamp(), end.timestamp()
        day = start.astimezone(self._zone).date()
        counters = _Counters()
        while moment < stop:
            plan = self._day(day)
            yield from self._day_readings(plan, moment, min(stop, plan.ends), counters)
            # Continue on the grid of poll instants into the next local day.
            steps = -(-(plan.ends - moment) // self._interval)
            moment += steps * self._interval
            day += timedelta(days=1)
            counters.today_wh = 0.0
            if day.day == 1:
                counters.month_wh = 0.0

    def _day_readings(
        self, plan: _Day, moment: float, stop: float, counters: _Counters
    ) -> list[Reading]:
        """One local day's readings; a tight loop over locals (a year of ten plugs is 10 M)."""
        random_ = self._rng.random
        interval = self._interval
        outage_chance = self._outages_per_day * interval / SECONDS_PER_DAY
        seconds, watts_of, noise_of = plan.seconds, plan.watts, plan.noise
        begins, shift_from, shift = plan.begins, plan.shift_from, plan.shift
        today_wh, month_wh = counters.today_wh, counters.month_wh
        outage_until = counters.outage_until
        found: list[Reading] = []
        append = found.append
        while moment < stop:
            # Wall-clock seconds since local midnight: the load follows the wall clock.
            wall = moment - begins + (shift if moment >= shift_from else 0.0)
            index = bisect.bisect_right(seconds, wall) - 1
            watts = watts_of[index]
            noise = noise_of[index]
            if noise:  # Irwin-Hall: three uniforms make a cheap bell curve of sd ``noise``
                watts += noise * 2 * (random_() + random_() + random_() - 1.5)
                if watts < 0:
                    watts = 0.0
            energy = watts * interval / 3600
            today_wh += energy
            month_wh += energy  # the plug counts through outages; only the readings stop
            if moment >= outage_until:
                if random_() < outage_chance:
                    outage_until = moment + 300 + random_() * 2100
                else:
                    taken = round(moment + random_() * POLL_JITTER_S, 3)
                    append(Reading(taken, int(watts * 1000 + 0.5), int(today_wh), int(month_wh)))
            moment += interval
        counters.today_wh, counters.month_wh = today_wh, month_wh
        counters.outage_until = outage_until
        return found

    def _day(self, day: date) -> _Day:
        """The day's UTC bounds, its DST change (from when, by how much) and its load plan."""
        begins = datetime.combine(day, time(0), tzinfo=self._zone).astimezone(UTC)
        ends = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._zone)
        start_offset = begins.astimezone(self._zone).utcoffset()
        shift_from, shift = ends.timestamp(), 0.0
        for hour in range(1, 26):  # DST changes happen on an hour boundary in UTC
            moment = begins + timedelta(hours=hour)
            offset = moment.astimezone(self._zone).utcoffset()
            if offset != start_offset and offset is not None and start_offset is not None:
                shift_from, shift = moment.timestamp(), (offset - start_offset).total_seconds()
                break
        steps = sorted(self._plan(day, self._rng), key=lambda step: step.second)
        return _Day(
            begins=begins.timestamp(),
            ends=ends.timestamp(),
            shift_from=shift_from,
            shift=shift,
            seconds=[step.second for step in steps],
            watts=[step.watts for step in steps],
            noise=[step.noise for step in steps],
        )


@dataclass(slots=True)
class _Counters:
    """What a plug carries from one day to the next: its counters, and an outage under way."""

    today_wh: float = 0.0
    month_wh: float = 0.0
    outage_until: float = 0.0


@dataclass(frozen=True, slots=True)
class _Day:
    begins: float
    ends: float
    shift_from: float
    shift: float
    seconds: list[int]
    watts: list[float]
    noise: list[float]


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
                await self._store_link_history(trace)
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

    async def _store_link_history(self, trace: LinkTrace) -> None:
        """The NAS link's filled past: the transitions before its first real one, once.

        Nothing is written without the NAS's ``servers`` row (BaluPi makes it on its first
        start), or when a filled past is there already.
        """
        async with self._sessions.begin() as session:
            server_id = await session.scalar(select(Server.id).order_by(Server.id).limit(1))
            if server_id is None:
                return
            first_real = await session.scalar(
                select(func.min(NasTransition.at)).where(NasTransition.server_id == server_id)
            )
            filled = await session.scalar(
                select(func.count())
                .select_from(NasTransition)
                .where(NasTransition.evidence.startswith(LINK_EVIDENCE))
            )
            if filled:
                return
            previous = NasState.UNKNOWN
            for at, state, watts in trace.transitions:
                if first_real is not None and at >= first_real:
                    break
                session.add(
                    NasTransition(
                        server_id=server_id,
                        at=at,
                        from_state=previous,
                        to_state=state,
                        evidence=f"{LINK_EVIDENCE} {watts:.1f} W",
                    )
                )
                previous = state

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


@dataclass(slots=True)
class LinkTrace:
    """The NAS link's states that the NAS plug's readings imply, in time order."""

    transitions: list[tuple[datetime, NasState, float]] = field(default_factory=list)

    def feed(self, readings: Iterable[Reading]) -> None:
        for reading in readings:
            state = NasState.ONLINE if reading.power_mw >= AWAKE_FROM_MW else NasState.SLEEPING
            if not self.transitions or self.transitions[-1][1] is not state:
                at = datetime.fromtimestamp(reading.at, UTC)
                self.transitions.append((at, state, reading.power_mw / 1000))


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
    session: AsyncSession, day_start: Callable[[date], datetime], device_id: int
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


def demo_tariffs(first_day: date, today: date) -> list[TariffDraft]:
    """A plausible German household tariff with a night rate and, a third of the span ago, a
    price change (left out when the span is too short for one)."""
    drafts = [
        TariffDraft("Arbeitspreis", 341_200, valid_from=first_day),
        TariffDraft(
            "Nachtstrom", 265_000, valid_from=first_day, starts_at=time(22), ends_at=time(6)
        ),
    ]
    change = today - timedelta(days=(today - first_day).days // 3)
    if first_day < change:
        drafts.append(TariffDraft("Arbeitspreis neu", 318_900, valid_from=change))
    return drafts
