"""Costs: pricing stored hours, and the cost of a day, week, month or year per plug and in total.

**One formula.** An hour's cost is ``energy_mwh x weight / 3.6e9`` micros, rounded half up,
where ``weight`` is the hour's price integral from ``TariffSchedule.hour_weight`` (micros per kWh
x seconds: 3600 x price for an hour at one price). It is evaluated in exactly one place, the SQL
of ``reprice_hours``, which both the roll-up job (for the hours it has just written) and tariff
changes (for the hours they affect) use, so a stored cost never depends on which path wrote it.
All integers: SQLite has no decimal type, and micros keep a year of sleeping-NAS hours (a tenth
of a cent each) exact to the cent. A day's cost is the sum of its hours' costs.

**Reports add, never average.** A period's cost is the sum of its days (or, for today, its closed
hours); the total is the sum over plugs. Energy with no price at all is reported beside the cost
(``unpriced``) instead of being priced at a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, Integer, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.db.models import EnergyDaily, EnergyHourly
from balupi.services.energy.calendar import LocalCalendar, Period
from balupi.services.energy.integration import Rollup
from balupi.services.energy.store import (
    DeviceInfo,
    day_series,
    hourly_rollups,
    list_devices,
    tariff_currency,
)
from balupi.types import DeviceId

# mWh -> kWh (1e6) times seconds per hour (3600): the divisor of energy x weight.
COST_DIVISOR: Final = 3_600_000_000


def _hour_cost(weight: int) -> ColumnElement[int]:
    # ``op("/")`` keeps SQLite's integer division (SQLAlchemy's ``/`` would make it true
    # division); ``self_group`` parenthesises the sum, which a custom operator does not.
    rounded = (EnergyHourly.energy_mwh * weight + COST_DIVISOR // 2).self_group()
    return rounded.op("/", return_type=Integer)(COST_DIVISOR)


async def reprice_hours(
    session: AsyncSession,
    device_ids: Sequence[int],
    runs: Iterable[tuple[datetime, datetime, int | None]],
) -> None:
    """Set ``cost_micros`` of the plugs' stored hours, one statement per run of equal weight."""
    for start, end, weight in runs:
        await session.execute(
            update(EnergyHourly)
            .where(
                EnergyHourly.device_id.in_(device_ids),
                EnergyHourly.hour_start >= start,
                EnergyHourly.hour_start < end,
            )
            .values(cost_micros=None if weight is None else _hour_cost(weight))
        )


async def reprice_days(
    session: AsyncSession,
    calendar: LocalCalendar,
    device_ids: Sequence[int],
    first: date,
    last: date,
) -> None:
    """Re-derive stored days' costs in ``[first, last]`` from their (re-priced) hours."""
    day = first
    while day <= last:
        start, end = calendar.day_bounds(day)
        hours_cost = (
            select(func.sum(EnergyHourly.cost_micros))
            .where(
                EnergyHourly.device_id == EnergyDaily.device_id,
                EnergyHourly.hour_start >= start,
                EnergyHourly.hour_start < end,
            )
            .scalar_subquery()
        )
        await session.execute(
            update(EnergyDaily)
            .where(EnergyDaily.device_id.in_(device_ids), EnergyDaily.day == day)
            .values(cost_micros=hours_cost)
        )
        day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CostLine:
    """Energy and cost of one plug (or all) over some span."""

    energy_mwh: int = 0
    cost_micros: int = 0
    unpriced_energy_mwh: int = 0

    @classmethod
    def of(cls, rollups: Iterable[Rollup]) -> CostLine:
        energy = cost = unpriced = 0
        for rollup in rollups:
            energy += rollup.energy_mwh
            if rollup.cost_micros is None:
                unpriced += rollup.energy_mwh
            else:
                cost += rollup.cost_micros
        return cls(energy, cost, unpriced)

    def __add__(self, other: CostLine) -> CostLine:
        return CostLine(
            self.energy_mwh + other.energy_mwh,
            self.cost_micros + other.cost_micros,
            self.unpriced_energy_mwh + other.unpriced_energy_mwh,
        )


def total_of(lines: Iterable[CostLine]) -> CostLine:
    """The sum over plugs (never their mean)."""
    total = CostLine()
    for line in lines:
        total += line
    return total


@dataclass(frozen=True, slots=True)
class CostBucket:
    """One step of a report's breakdown: an hour of a day, a day of a week or month, a month."""

    start: datetime
    label: str
    total: CostLine
    devices: dict[int, CostLine]


@dataclass(frozen=True, slots=True)
class CostReport:
    period: Period
    first_day: date
    end_day: date  # exclusive
    start: datetime  # the period's first instant (local midnight of ``first_day``)
    end: datetime  # and its end, exclusive
    counted_until: datetime  # energy is counted in [start, counted_until): closed hours, not now
    now: datetime
    currency: str | None
    devices: list[DeviceInfo]
    by_device: dict[int, CostLine]
    total: CostLine
    breakdown: list[CostBucket]


class StoredReport:
    """The base of the read-only reports (``CostReporter``, ``EnergySummary``): both read the
    stored roll-ups through the local calendar up to the clock's now, and need nothing else."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], calendar: LocalCalendar, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._calendar = calendar
        self._clock = clock


class CostReporter(StoredReport):
    """Costs per plug and in total for the local day, week, month or year holding a date."""

    async def report(
        self, period: Period, day: date | None = None, device_id: DeviceId | None = None
    ) -> CostReport:
        """The report for ``period`` holding ``day`` (default: today, local).

        Includes the closed hours so far; the current hour joins when the roll-up job closes it.
        """
        calendar = self._calendar
        day = day or calendar.local_date(self._clock.now())
        first, end = calendar.period_days(period, day)
        async with self._sessions() as session:
            devices = await list_devices(session, device_id)
            ids = [device.id for device in devices]
            days = await day_series(session, calendar, devices, first, end)
            if period is Period.DAY:
                start, stop = calendar.day_bounds(first)
                steps = await hourly_rollups(session, ids, start, stop)
                labels = {
                    hour.start: calendar.local_iso(hour.start)
                    for hours in steps.values()
                    for hour in hours
                }
                breakdown = _breakdown(steps, labels)
            elif period is Period.YEAR:
                breakdown = _breakdown(*self._months(days))
            else:
                breakdown = _breakdown(days, self._day_labels(days))
            currency = await tariff_currency(session)
        by_device = {device.id: CostLine.of(days[device.id]) for device in devices}
        now = self._clock.now()
        period_start, period_end = calendar.day_start(first), calendar.day_start(end)
        return CostReport(
            period=period,
            first_day=first,
            end_day=end,
            start=period_start,
            end=period_end,
            counted_until=_counted_until(devices, period_start, period_end, now),
            now=now,
            currency=currency,
            devices=devices,
            by_device=by_device,
            total=total_of(by_device.values()),
            breakdown=breakdown,
        )

    def _day_labels(self, series: dict[int, list[Rollup]]) -> dict[datetime, str]:
        return {
            day.start: self._calendar.local_date(day.start).isoformat()
            for days in series.values()
            for day in days
        }

    def _months(
        self, series: dict[int, list[Rollup]]
    ) -> tuple[dict[int, list[Rollup]], dict[datetime, str]]:
        """Days regrouped into months: each day re-labelled with its month's first day."""
        calendar = self._calendar
        by_month: dict[int, list[Rollup]] = {}
        labels: dict[datetime, str] = {}
        for device_id, days in series.items():
            moved = []
            for day in days:
                local = calendar.local_date(day.start)
                month_start = calendar.day_start(local.replace(day=1))
                labels[month_start] = f"{local.year:04d}-{local.month:02d}"
                moved.append(day._replace(start=month_start))
            by_month[device_id] = moved
        return by_month, labels


def _counted_until(
    devices: Iterable[DeviceInfo], start: datetime, end: datetime, now: datetime
) -> datetime:
    """Up to where the period's energy is counted: the closed hours every plug has rolled up
    (the earliest watermark), never past now or the period. The dashboard asks the history for
    the same window, so its chart and these costs add up the same hours."""
    marks = [device.hourly_done_until for device in devices if device.hourly_done_until]
    counted = min(marks, default=start)
    return max(start, min(counted, end, now))


def _breakdown(series: dict[int, list[Rollup]], labels: dict[datetime, str]) -> list[CostBucket]:
    per_step: dict[datetime, dict[int, list[Rollup]]] = {start: {} for start in sorted(labels)}
    for device_id, rollups in series.items():
        for rollup in rollups:
            per_step[rollup.start].setdefault(device_id, []).append(rollup)
    buckets = []
    for start, devices in per_step.items():
        lines = {device_id: CostLine.of(parts) for device_id, parts in devices.items()}
        buckets.append(CostBucket(start, labels[start], total_of(lines.values()), lines))
    return buckets
