"""Reading and writing the energy tables: every query the energy services share.

Each function takes the session explicitly (keyword-only where order could be confused), so a
caller decides what shares a transaction. Queries always name the device ids: the tables are
``WITHOUT ROWID`` tables keyed by (device, time), so ``device_id IN (…) AND time range`` is a
few key-range scans, while a time range alone would read every row of every plug.

Raw timestamps are read as epoch seconds computed by SQLite (``julianday``), not as datetimes:
a day chart of ten plugs reads 28 800 readings, and building a datetime for each costs more than
the chart's whole budget on a Pi.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, cast

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.ext.asyncio import AsyncSession

from balupi.db.models import (
    DeviceRole,
    EnergyDaily,
    EnergyHourly,
    EnergyPrice,
    EnergySample,
    TapoDevice,
)
from balupi.services.energy.calendar import LocalCalendar
from balupi.services.energy.errors import DeviceNotFound
from balupi.services.energy.integration import Reading, ReadingRow, Rollup, combine

UNIX_EPOCH_JULIAN_DAY: Final = 2440587.5
SECONDS_PER_DAY: Final = 86400.0
# SQLite binds at most 32766 parameters per statement; executemany batches stay far below.
WRITE_BATCH_ROWS: Final = 2000

_ROLLUP_FIELDS: Final = (
    "energy_mwh",
    "counter_wh",
    "avg_power_mw",
    "min_power_mw",
    "max_power_mw",
    "sample_count",
    "covered_seconds",
    "cost_micros",
)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the energy services need to know about a plug: its name and its watermarks."""

    id: int
    name: str
    role: DeviceRole
    hourly_done_until: datetime | None
    daily_done_until: date | None
    # With ``id`` the row's identity over time: SQLite may give a new plug a deleted one's id.
    created_at: datetime


async def list_devices(session: AsyncSession, device_id: int | None = None) -> list[DeviceInfo]:
    """All plugs by id, or just ``device_id`` (``DeviceNotFound`` if there is no such plug)."""
    query = select(
        TapoDevice.id,
        TapoDevice.name,
        TapoDevice.role,
        TapoDevice.hourly_done_until,
        TapoDevice.daily_done_until,
        TapoDevice.created_at,
    ).order_by(TapoDevice.id)
    if device_id is not None:
        query = query.where(TapoDevice.id == device_id)
    devices = [DeviceInfo(*row) for row in (await session.execute(query)).all()]
    if device_id is not None and not devices:
        raise DeviceNotFound(device_id)
    return devices


async def tariff_currency(session: AsyncSession) -> str | None:
    """The currency of the stored tariffs (they share one), or ``None`` without tariffs."""
    found: str | None = await session.scalar(select(EnergyPrice.currency).limit(1))
    return found


def _epoch_seconds(column: Any) -> ColumnElement[Any]:
    # julianday() is a double of days; rounded to whole milliseconds (SQLite's own precision) a
    # reading taken exactly on an hour stays on it instead of landing a hair before it.
    milliseconds = (func.julianday(column) - UNIX_EPOCH_JULIAN_DAY) * SECONDS_PER_DAY * 1000
    return func.round(milliseconds) / 1000.0


async def load_readings(
    session: AsyncSession, device_id: int, start: datetime, end: datetime
) -> list[ReadingRow]:
    """One plug's readings with ``start <= ts <= end``, oldest first."""
    query = (
        select(
            _epoch_seconds(EnergySample.ts),
            EnergySample.power_mw,
            EnergySample.today_wh,
            EnergySample.month_wh,
        )
        .where(EnergySample.device_id == device_id, EnergySample.ts.between(start, end))
        .order_by(EnergySample.ts)
    )
    # Core rather than ORM execution: no identity map, a third less time per row.
    connection = await session.connection()
    rows = (await connection.execute(query)).all()
    return cast(list[ReadingRow], rows)


async def first_sample_at(
    session: AsyncSession, device_id: int, *, not_before: datetime | None = None
) -> datetime | None:
    """The time of the plug's oldest reading (at or after ``not_before``), if any."""
    query = select(func.min(EnergySample.ts)).where(EnergySample.device_id == device_id)
    if not_before is not None:
        query = query.where(EnergySample.ts >= not_before)
    found: datetime | None = await session.scalar(query)  # min() keeps the UTC column type
    return found


async def first_hour_at(
    session: AsyncSession, device_id: int, *, not_before: datetime | None = None
) -> datetime | None:
    """The start of the plug's oldest hourly roll-up (at or after ``not_before``), if any."""
    query = (
        select(EnergyHourly.hour_start)
        .where(EnergyHourly.device_id == device_id)
        .order_by(EnergyHourly.hour_start)
        .limit(1)
    )
    if not_before is not None:
        query = query.where(EnergyHourly.hour_start >= not_before)
    found: datetime | None = await session.scalar(query)
    return found


def _rollup(start: datetime, row: Sequence[Any]) -> Rollup:
    return Rollup(start, *row)


async def hourly_rollups(
    session: AsyncSession, device_ids: Iterable[int], start: datetime, end: datetime
) -> dict[int, list[Rollup]]:
    """Hourly roll-ups with ``start <= hour_start < end`` by device, oldest first."""
    ids = list(device_ids)
    fields = [getattr(EnergyHourly, name) for name in _ROLLUP_FIELDS]
    query = (
        select(EnergyHourly.device_id, EnergyHourly.hour_start, *fields)
        .where(
            EnergyHourly.device_id.in_(ids),
            EnergyHourly.hour_start >= start,
            EnergyHourly.hour_start < end,
        )
        .order_by(EnergyHourly.device_id, EnergyHourly.hour_start)
    )
    found: dict[int, list[Rollup]] = {device_id: [] for device_id in ids}
    connection = await session.connection()
    for row in (await connection.execute(query)).all():
        found[row[0]].append(_rollup(row[1], row[2:]))
    return found


async def daily_rollups(
    session: AsyncSession,
    calendar: LocalCalendar,
    device_ids: Iterable[int],
    first: date,
    end: date,
) -> dict[int, list[Rollup]]:
    """Stored daily roll-ups of the local days ``[first, end)`` by device, oldest first.

    A day's ``start`` is the UTC instant of its local midnight.
    """
    ids = list(device_ids)
    fields = [getattr(EnergyDaily, name) for name in _ROLLUP_FIELDS]
    query = (
        select(EnergyDaily.device_id, EnergyDaily.day, *fields)
        .where(EnergyDaily.device_id.in_(ids), EnergyDaily.day >= first, EnergyDaily.day < end)
        .order_by(EnergyDaily.device_id, EnergyDaily.day)
    )
    found: dict[int, list[Rollup]] = {device_id: [] for device_id in ids}
    connection = await session.connection()  # Core: a year of ten plugs is 3 650 rows
    for row in (await connection.execute(query)).all():
        found[row[0]].append(_rollup(calendar.day_start(row[1]), row[2:]))
    return found


def days_from_hours(calendar: LocalCalendar, hours: Iterable[Rollup]) -> list[Rollup]:
    """Fold hourly roll-ups into local days: the daily job's rule, in one place."""
    by_day: dict[date, list[Rollup]] = defaultdict(list)
    for hour in hours:
        by_day[calendar.local_date(hour.start)].append(hour)
    return [combine(by_day[day], calendar.day_start(day)) for day in sorted(by_day)]


async def day_series(
    session: AsyncSession,
    calendar: LocalCalendar,
    devices: Sequence[DeviceInfo],
    first: date,
    end: date,
) -> dict[int, list[Rollup]]:
    """Every plug's local days ``[first, end)``, complete or not, oldest first.

    Days the daily job has rolled up come from ``energy_daily``; the newer ones (today, and
    yesterday until its last hour is closed) are folded from their closed hours the same way
    the daily job will fold them, so a total never waits for midnight.
    """
    series = await daily_rollups(session, calendar, [d.id for d in devices], first, end)
    pending = {
        device.id: max(first, device.daily_done_until or first)
        for device in devices
        if max(first, device.daily_done_until or first) < end
    }
    if not pending:
        return series
    # One query for every plug's pending hours (a day or two each, typically).
    hours = await hourly_rollups(
        session, pending, calendar.day_start(min(pending.values())), calendar.day_start(end)
    )
    for device_id, pending_from in pending.items():
        since = calendar.day_start(pending_from)
        done = {day.start for day in series[device_id]}
        fresh = [
            day
            for day in days_from_hours(calendar, [h for h in hours[device_id] if h.start >= since])
            if day.start not in done
        ]
        series[device_id] = sorted([*series[device_id], *fresh], key=lambda day: day.start)
    return series


def _rollup_values(rollup: Rollup) -> dict[str, Any]:
    return {name: getattr(rollup, name) for name in _ROLLUP_FIELDS}


async def upsert_hours(session: AsyncSession, device_id: int, hours: Sequence[Rollup]) -> None:
    """Write hourly roll-ups, replacing any stored for the same hours."""
    rows = [
        {"device_id": device_id, "hour_start": hour.start, **_rollup_values(hour)} for hour in hours
    ]
    await _upsert(session, EnergyHourly, rows, ("device_id", "hour_start"))


async def upsert_days(
    session: AsyncSession, calendar: LocalCalendar, device_id: int, days: Sequence[Rollup]
) -> None:
    """Write daily roll-ups (``start`` = the day's local midnight), replacing stored ones."""
    rows = [
        {"device_id": device_id, "day": calendar.local_date(day.start), **_rollup_values(day)}
        for day in days
    ]
    await _upsert(session, EnergyDaily, rows, ("device_id", "day"))


async def _upsert(
    session: AsyncSession,
    model: type[EnergyHourly] | type[EnergyDaily],
    rows: Sequence[dict[str, Any]],
    key: tuple[str, str],
) -> None:
    if not rows:
        return
    statement = insert(model)
    statement = statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: statement.excluded[name] for name in _ROLLUP_FIELDS},
    )
    for offset in range(0, len(rows), WRITE_BATCH_ROWS):
        await session.execute(statement, rows[offset : offset + WRITE_BATCH_ROWS])


async def set_watermarks(
    session: AsyncSession,
    device_id: int,
    *,
    hourly_done_until: datetime | None = None,
    daily_done_until: date | None = None,
) -> None:
    """Move a plug's roll-up watermarks (only the ones given)."""
    values: dict[str, Any] = {}
    if hourly_done_until is not None:
        values["hourly_done_until"] = hourly_done_until
    if daily_done_until is not None:
        values["daily_done_until"] = daily_done_until
    if values:
        await session.execute(update(TapoDevice).where(TapoDevice.id == device_id).values(values))


async def insert_samples(
    session: AsyncSession, device_id: int, readings: Sequence[Reading]
) -> None:
    """Store raw readings (the history filler's; the Tapo service writes its own)."""
    rows = [
        {
            "device_id": device_id,
            "ts": datetime.fromtimestamp(reading.at, UTC),
            "power_mw": reading.power_mw,
            "voltage_mv": None,
            "current_ma": None,
            "today_wh": reading.today_wh,
            "month_wh": reading.month_wh,
        }
        for reading in readings
    ]
    for offset in range(0, len(rows), WRITE_BATCH_ROWS):
        await session.execute(insert(EnergySample), rows[offset : offset + WRITE_BATCH_ROWS])


async def peak_power(
    session: AsyncSession, device_ids: Sequence[int], start: datetime, end: datetime
) -> tuple[dict[int, int], int | None]:
    """Highest hourly maximum per plug in ``[start, end)``, and the highest hour of all plugs.

    The all-plug figure is the largest sum of the plugs' maxima within one hour: plugs are not
    read at the same instant, so this bounds their joint peak from above.
    """
    window = (
        EnergyHourly.device_id.in_(device_ids),
        EnergyHourly.hour_start >= start,
        EnergyHourly.hour_start < end,
    )
    per_device = await session.execute(
        select(EnergyHourly.device_id, func.max(EnergyHourly.max_power_mw))
        .where(*window)
        .group_by(EnergyHourly.device_id)
    )
    stacked = (
        select(func.sum(EnergyHourly.max_power_mw).label("stacked"))
        .where(*window)
        .group_by(EnergyHourly.hour_start)
        .subquery()
    )
    joint: int | None = await session.scalar(select(func.max(stacked.c.stacked)))
    return {device_id: peak for device_id, peak in per_device.all()}, joint
