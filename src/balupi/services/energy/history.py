"""History for charts: one series per plug, plus their stacked total, at a resolution that fits.

The range picks the resolution (and the default window, ending now):

=========  ================  ===============================================================
range      default window    resolution
=========  ================  ===============================================================
``day``    the last 24 h     5-minute slots integrated from the raw readings (288 points a
                             plug); hourly roll-ups where the window reaches past the 7 days
                             raw readings are kept
``week``   the last 7 days   hourly roll-ups (168 points); daily past the year hours are kept
``month``  the last 30 days  local days (30 points, labelled with their local date)
``year``   the last 365 days local days
=========  ================  ===============================================================

Five-minute slots use the roll-ups' integration rule (``integration.integrate``), so a slot's
energy and an hour's agree. Hourly points end with the last closed hour; day points include
today so far (``store.day_series``). An explicit ``from`` / ``to`` (``to`` exclusive) moves the
window, limited per range (``MAX_SPAN``) so no answer grows without bound.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.services.energy.calendar import HOUR, LocalCalendar, floor_hour
from balupi.services.energy.errors import WindowInvalid
from balupi.services.energy.integration import Rollup, integrate
from balupi.services.energy.retention import EnergyRetention
from balupi.services.energy.store import (
    DeviceInfo,
    day_series,
    hourly_rollups,
    list_devices,
    load_readings,
)

SLOT_SECONDS: Final = 300


class HistoryRange(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class Resolution(enum.StrEnum):
    FIVE_MINUTES = "5min"
    HOUR = "hour"
    DAY = "day"


DEFAULT_SPAN: Final = {
    HistoryRange.DAY: timedelta(days=1),
    HistoryRange.WEEK: timedelta(days=7),
    HistoryRange.MONTH: timedelta(days=30),
    HistoryRange.YEAR: timedelta(days=365),
}
MAX_SPAN: Final = {
    HistoryRange.DAY: timedelta(days=2),
    HistoryRange.WEEK: timedelta(days=31),
    HistoryRange.MONTH: timedelta(days=366),
    HistoryRange.YEAR: timedelta(days=3660),
}


class StackedPoint(NamedTuple):
    """All plugs together at one point: sums, never means over plugs (a tuple: see Rollup)."""

    start: datetime
    energy_mwh: int
    avg_power_mw: int
    cost_micros: int | None


@dataclass(frozen=True, slots=True)
class History:
    range: HistoryRange
    resolution: Resolution
    start: datetime
    end: datetime
    series: dict[int, list[Rollup]]
    devices: list[DeviceInfo]
    total: list[StackedPoint]


class EnergyHistory:
    """Answers ``GET /api/energy/history`` (see the module docstring)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        calendar: LocalCalendar,
        clock: Clock,
        retention: EnergyRetention,
        *,
        max_gap_s: float,
        settle_s: float,
    ) -> None:
        self._sessions = sessions
        self._calendar = calendar
        self._clock = clock
        self._retention = retention
        self._max_gap_s = max_gap_s
        self._settled = SettledSlots(clock, settle_s)

    async def history(
        self,
        range_: HistoryRange,
        device_id: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> History:
        end = end or self._clock.now()
        start = start or end - DEFAULT_SPAN[range_]
        if start >= end:
            raise WindowInvalid("'from' must come before 'to'")
        if end - start > MAX_SPAN[range_]:
            raise WindowInvalid(
                f"a {range_.value} range spans at most {MAX_SPAN[range_].days} days; "
                "use a longer range"
            )
        resolution = self._resolution(range_, start)
        async with self._sessions() as session:
            devices = await list_devices(session, device_id)
            if resolution is Resolution.FIVE_MINUTES:
                if device_id is None:  # every plug there is: forget the removed ones
                    self._settled.keep_only(devices)
                start, end, series = await self._slots(session, devices, start, end)
            elif resolution is Resolution.HOUR:
                start, end = floor_hour(start), _ceil_hour(end)
                series = await hourly_rollups(session, [d.id for d in devices], start, end)
            else:
                first = self._calendar.local_date(start)
                last = self._calendar.local_date(end - timedelta(microseconds=1))
                stop = last + timedelta(days=1)
                series = await day_series(session, self._calendar, devices, first, stop)
                start, end = self._calendar.day_start(first), self._calendar.day_start(stop)
        return History(range_, resolution, start, end, series, devices, _stack(series))

    def _resolution(self, range_: HistoryRange, start: datetime) -> Resolution:
        if range_ is HistoryRange.DAY:
            raw_kept = start >= self._retention.raw_horizon()
            return Resolution.FIVE_MINUTES if raw_kept else Resolution.HOUR
        if range_ is HistoryRange.WEEK:
            hours_kept = start >= self._retention.hourly_horizon()
            return Resolution.HOUR if hours_kept else Resolution.DAY
        return Resolution.DAY

    async def _slots(
        self, session: AsyncSession, devices: list[DeviceInfo], start: datetime, end: datetime
    ) -> tuple[datetime, datetime, dict[int, list[Rollup]]]:
        first = start.timestamp() // SLOT_SECONDS * SLOT_SECONDS
        stop = -(-end.timestamp() // SLOT_SECONDS) * SLOT_SECONDS
        gap = timedelta(seconds=self._max_gap_s)
        series = {}
        for device in devices:
            reused, resume = self._settled.lookup(device, first, stop)
            fresh: list[Rollup] = []
            if resume < stop:
                readings = await load_readings(
                    session,
                    device.id,
                    datetime.fromtimestamp(resume, UTC) - gap,
                    datetime.fromtimestamp(stop, UTC) + gap,
                )
                fresh = integrate(
                    readings, width=SLOT_SECONDS, start=resume, end=stop, max_gap=self._max_gap_s
                )
            series[device.id] = [*reused, *fresh]
            self._settled.store(device, first, resume, stop, fresh)
        return datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(stop, UTC), series


@dataclass(slots=True)
class _Settled:
    first: float  # the first slot this entry speaks for
    until: float  # it holds every slot with data in [first, until)
    slots: list[Rollup]
    made_at: float  # Clock.monotonic() when it was built from scratch


class SettledSlots:
    """Five-minute slots that can no longer change, per plug, so a day chart integrates only its
    newest minutes instead of a day of readings (the whole budget of a request on a Pi).

    A slot is settled once ``settle_s`` has passed since its end: the rule by which the roll-up
    job calls an hour closed, so no reading for it can still arrive from the poller. Entries are
    rebuilt from scratch after ``MAX_AGE`` all the same, because one writer can change settled
    readings: the history filler run in another process. Each entry keeps ``KEEP`` of slots.
    """

    MAX_AGE: Final = 3600.0
    KEEP: Final = 2 * 86400.0

    def __init__(self, clock: Clock, settle_s: float) -> None:
        self._clock = clock
        self._settle_s = settle_s
        self._entries: dict[tuple[int, datetime], _Settled] = {}

    def keep_only(self, devices: list[DeviceInfo]) -> None:
        current = {(device.id, device.created_at) for device in devices}
        for key in [key for key in self._entries if key not in current]:
            del self._entries[key]

    def lookup(self, device: DeviceInfo, first: float, stop: float) -> tuple[list[Rollup], float]:
        """The settled slots of ``[first, stop)`` held for the plug, and where they end."""
        entry = self._entries.get((device.id, device.created_at))
        if (
            entry is None
            or self._clock.monotonic() - entry.made_at > self.MAX_AGE
            or not entry.first <= first < entry.until
        ):
            return [], first
        until = min(entry.until, stop)
        return [s for s in entry.slots if first <= s.start.timestamp() < until], until

    def store(
        self, device: DeviceInfo, first: float, resume: float, stop: float, fresh: list[Rollup]
    ) -> None:
        """Remember the settled slots of ``fresh``, integrated over ``[resume, stop)``.

        ``resume == first`` means the window was integrated from scratch; anything else means
        it continued the plug's entry where that ended (``lookup``).
        """
        settled = (self._clock.now().timestamp() - self._settle_s) // SLOT_SECONDS * SLOT_SECONDS
        key = (device.id, device.created_at)
        entry = self._entries.get(key)
        if resume == first or entry is None:
            entry = _Settled(first, first, [], self._clock.monotonic())
            self._entries[key] = entry
        elif resume != entry.until:  # the window ended inside the entry: nothing new
            return
        until = min(settled, stop)
        if until <= entry.until:
            return
        entry.slots.extend(s for s in fresh if entry.until <= s.start.timestamp() < until)
        entry.until = until
        oldest = until - self.KEEP
        if entry.first < oldest:
            entry.first = oldest // SLOT_SECONDS * SLOT_SECONDS
            entry.slots = [s for s in entry.slots if s.start.timestamp() >= entry.first]


def _ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def _stack(series: dict[int, list[Rollup]]) -> list[StackedPoint]:
    """The total over plugs per point; costs add up where known (as in ``integration.combine``)."""
    by_start: dict[datetime, list[Rollup]] = {}
    for rollups in series.values():
        for rollup in rollups:
            by_start.setdefault(rollup.start, []).append(rollup)
    points = []
    for start in sorted(by_start):
        parts = by_start[start]
        costs = [part.cost_micros for part in parts]
        points.append(
            StackedPoint(
                start,
                sum(part.energy_mwh for part in parts),
                sum(part.avg_power_mw for part in parts),
                _known_sum(costs),
            )
        )
    return points


def _known_sum(values: list[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None
