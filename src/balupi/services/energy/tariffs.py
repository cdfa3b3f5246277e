"""Tariffs: dated prices per kWh, optionally only within a daily time window, in local time.

**Which price applies at an instant.** Take the instant's local date and wall time in the
configured zone. Among the tariffs valid on that date (``valid_from <= date < valid_until``), a
windowed tariff whose window holds the wall time wins (a 22:00-06:00 night rate); otherwise the
all-day tariff applies; otherwise nothing does, and the energy stays unpriced (``cost = null``),
never priced at a guess. A window that wraps midnight belongs, after midnight, to the new date's
tariffs: a night rate valid from 1 February first applies at 00:00 on 1 February.

**Dated, so the past keeps its prices.** A new all-day tariff without an end replaces the
previous open-ended one *from its own date on*: the predecessor gets ``valid_until`` = the new
``valid_from`` (the same for a windowed tariff with the very same window). Every other overlap
between all-day tariffs, or between windowed tariffs whose windows intersect, is refused (409),
so at no instant two prices compete.
Costs are stored per hour as the tariffs were when the hour was priced; a change re-prices only
the hours inside the changed tariffs' dates, so nothing before a new price's date changes. A
tariff dated in the past is a correction and re-prices the stored hours from its date on, as far
back as hourly data is kept (one year); days older than that keep the costs they had.

**Precision within an hour.** Energy is kept per hour, so the price of an hour is its mean price
over its 60 minutes (windows are whole minutes): exact when every window edge falls on the hour
(22:00-06:00, in any zone with whole-hour offsets). An hour cut by an edge (23:30) is priced by
the share of its minutes on each side, which assumes an even draw within that hour; the error is
at most the price difference times the energy that drew unevenly within the hour, and it cancels
on average.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.db.models import EnergyPrice
from balupi.services.energy.calendar import HOUR, LocalCalendar, floor_hour
from balupi.services.energy.costs import reprice_days, reprice_hours
from balupi.services.energy.errors import TariffConflict, TariffInvalid, TariffNotFound
from balupi.services.energy.retention import HOURLY_RETENTION_DAYS
from balupi.services.energy.store import list_devices

MICROS: Final = 1_000_000
# A generous ceiling (100 per kWh) that also keeps energy x price inside SQLite's 64-bit integers.
MAX_PRICE_MICROS: Final = 100 * MICROS
MINUTES_PER_DAY: Final = 24 * 60
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _minute(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def price_micros(price: Decimal) -> int:
    """A price per kWh in micros, exactly; ``TariffInvalid`` beyond six decimals or range."""
    micros = price * MICROS
    if micros != micros.to_integral_value():
        raise TariffInvalid("The price has more than 6 decimal places.")
    if not 0 <= micros <= MAX_PRICE_MICROS:
        raise TariffInvalid(
            f"The price per kWh must lie between 0 and {MAX_PRICE_MICROS // MICROS}."
        )
    return int(micros)


@dataclass(frozen=True, slots=True)
class TariffDraft:
    """A tariff as a caller describes it; ``validated()`` checks it means something."""

    name: str
    price_per_kwh_micros: int
    valid_from: date
    valid_until: date | None = None
    starts_at: time | None = None
    ends_at: time | None = None
    currency: str = "EUR"

    def validated(self) -> TariffDraft:
        name = self.name.strip()
        if not name or len(name) > 255:
            raise TariffInvalid("Give the tariff a name of 1 to 255 characters.")
        if not 0 <= self.price_per_kwh_micros <= MAX_PRICE_MICROS:
            raise TariffInvalid(
                f"The price per kWh must lie between 0 and {MAX_PRICE_MICROS // MICROS}."
            )
        currency = self.currency.upper()
        if not _CURRENCY.match(currency):
            raise TariffInvalid("The currency must be a three-letter code such as EUR.")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise TariffInvalid("The end date must come after the start date.")
        if (self.starts_at is None) != (self.ends_at is None):
            raise TariffInvalid("Give both a start and an end time for the hours, or neither.")
        if self.starts_at is not None and self.ends_at is not None:
            for edge in (self.starts_at, self.ends_at):
                if edge.second or edge.microsecond or edge.tzinfo is not None:
                    raise TariffInvalid("Give the hours in whole minutes.")
            if self.starts_at == self.ends_at:
                raise TariffInvalid("The hours must not start and end at the same time.")
        return replace(self, name=name, currency=currency)

    def stored_as(self, tariff_id: int) -> Tariff:
        return Tariff(
            id=tariff_id,
            name=self.name,
            price_per_kwh_micros=self.price_per_kwh_micros,
            currency=self.currency,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
        )


@dataclass(frozen=True, slots=True)
class Tariff(TariffDraft):
    """A stored tariff."""

    id: int = 0

    @classmethod
    def from_row(cls, row: EnergyPrice) -> Tariff:
        draft = TariffDraft(
            name=row.name,
            price_per_kwh_micros=row.price_per_kwh_micros,
            currency=row.currency,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
        )
        return draft.stored_as(row.id)

    @property
    def windowed(self) -> bool:
        return self.starts_at is not None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)

    def window_minutes(self) -> list[tuple[int, int]]:
        """The window as half-open minute ranges of a day (two when it wraps midnight)."""
        if self.starts_at is None or self.ends_at is None:
            return [(0, MINUTES_PER_DAY)]
        start, end = _minute(self.starts_at), _minute(self.ends_at)
        if start < end:
            return [(start, end)]
        return [(start, MINUTES_PER_DAY), (0, end)]

    def in_window(self, minute: int) -> bool:
        return any(start <= minute < end for start, end in self.window_minutes())


def _dates_overlap(a: TariffDraft, b: TariffDraft) -> bool:
    a_end = a.valid_until or date.max
    b_end = b.valid_until or date.max
    return a.valid_from < b_end and b.valid_from < a_end


def _same_kind_overlap(a: Tariff, b: Tariff) -> bool:
    """Whether two tariffs would both claim some instant (all-day vs windowed never clash)."""
    if a.windowed != b.windowed:
        return False
    if not a.windowed:
        return True
    return any(
        s1 < e2 and s2 < e1 for s1, e1 in a.window_minutes() for s2, e2 in b.window_minutes()
    )


def _replaces(new: Tariff, old: Tariff) -> bool:
    """Whether ``new`` is the next price of ``old``: both open-ended, ``new`` starting later,
    and both all-day or both for the very same window (a different window is a new schedule,
    which the admin ends the old one for explicitly)."""
    return (
        new.valid_until is None
        and old.valid_until is None
        and old.valid_from < new.valid_from
        and (new.starts_at, new.ends_at) == (old.starts_at, old.ends_at)
    )


class TariffSchedule:
    """The tariffs in force, answering "what does energy cost at this instant / in this hour"."""

    def __init__(self, tariffs: Sequence[Tariff], zone: ZoneInfo) -> None:
        self.tariffs = sorted(tariffs, key=lambda t: (t.valid_from, t.id))
        self.zone = zone
        self.currency = self.tariffs[0].currency if self.tariffs else None
        # Wall-clock minutes where some window starts or ends, plus midnight (the date changes).
        self._edges = sorted(
            {0}
            | {
                edge
                for tariff in self.tariffs
                for span in tariff.window_minutes()
                for edge in span
                if edge < MINUTES_PER_DAY
            }
        )
        self._weights: dict[datetime, int | None] = {}

    def tariff_at(self, moment: datetime) -> Tariff | None:
        local = moment.astimezone(self.zone)
        return self._tariff_on(local.date(), local.hour * 60 + local.minute)

    def _tariff_on(self, day: date, minute: int) -> Tariff | None:
        all_day: Tariff | None = None
        for tariff in self.tariffs:
            if not tariff.valid_on(day):
                continue
            if tariff.windowed:
                if tariff.in_window(minute):
                    return tariff
            elif all_day is None:
                all_day = tariff
        return all_day

    def hour_weight(self, hour_start: datetime) -> int | None:
        """The hour's price integral in micros per kWh x seconds; ``None`` if nothing applies.

        ``cost_micros = energy_mwh x weight / 3.6e9`` (``costs.py``). A minute without a price
        adds nothing, so an hour priced for only part of its minutes costs only that part.
        """
        if hour_start not in self._weights:
            self._weights[hour_start] = self._compute_weight(hour_start)
        return self._weights[hour_start]

    def _compute_weight(self, hour_start: datetime) -> int | None:
        local = hour_start.astimezone(self.zone)
        local_end = (hour_start + HOUR).astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        same_offset = local.utcoffset() == local_end.utcoffset()
        cut = any(
            minute < edge < minute + 60 or minute < edge + MINUTES_PER_DAY < minute + 60
            for edge in self._edges
        )
        if same_offset and not cut:  # one price for the whole hour
            tariff = self._tariff_on(local.date(), minute)
            return None if tariff is None else tariff.price_per_kwh_micros * 3600
        total, priced = 0, False
        for offset in range(60):
            tariff = self.tariff_at(hour_start + timedelta(minutes=offset, seconds=30))
            if tariff is not None:
                total += tariff.price_per_kwh_micros * 60
                priced = True
        return total if priced else None

    def weight_runs(
        self, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, datetime, int | None]]:
        """Consecutive hours of ``[start, end)`` with the same weight, as ``(from, to, weight)``."""
        run_start, run_weight = start, self.hour_weight(start) if start < end else None
        hour = start
        while hour < end:
            weight = self.hour_weight(hour)
            if weight != run_weight:
                yield run_start, hour, run_weight
                run_start, run_weight = hour, weight
            hour += HOUR
        if run_start < end:
            yield run_start, end, run_weight


@dataclass(frozen=True, slots=True)
class TariffChange:
    """What a create did: the new tariff, and the predecessors it ended."""

    tariff: Tariff
    superseded: list[Tariff]


class TariffBook:
    """The stored tariffs: listing them, and changing them with the stored costs kept true.

    Changes run under the energy lock that the roll-up job also takes, so an hour is never
    priced with a tariff list that a concurrent change has just replaced.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        calendar: LocalCalendar,
        clock: Clock,
        lock: asyncio.Lock,
    ) -> None:
        self._sessions = sessions
        self._calendar = calendar
        self._clock = clock
        self._lock = lock

    async def all(self) -> list[Tariff]:
        async with self._sessions() as session:
            return await self._load(session)

    async def schedule(self, session: AsyncSession) -> TariffSchedule:
        """The tariffs as a schedule, read in the caller's transaction."""
        return TariffSchedule(await self._load(session), self._calendar.zone)

    async def create(self, draft: TariffDraft, *, dry_run: bool = False) -> TariffChange:
        """Store a new tariff, ending the open-ended predecessors it replaces from its date on.

        With ``dry_run`` nothing is stored: the answer says what storing it would change (the
        tariff has id 0), so the dashboard can ask before it shortens another tariff.
        """
        draft = draft.validated()
        async with self._lock, self._sessions.begin() as session:
            existing = await self._load(session)
            candidate = draft.stored_as(0)
            superseded = [old for old in existing if _replaces(candidate, old)]
            ended = [replace(old, valid_until=draft.valid_from) for old in superseded]
            kept = [t for t in existing if t not in superseded]
            self._check(candidate, [*kept, *ended])
            if dry_run:
                return TariffChange(candidate, ended)
            for old in ended:
                await session.execute(
                    update(EnergyPrice)
                    .where(EnergyPrice.id == old.id)
                    .values(valid_until=old.valid_until)
                )
            row = EnergyPrice(**_fields(draft))
            session.add(row)
            await session.flush()
            created = Tariff.from_row(row)
            await self._reprice(session, draft.valid_from, draft.valid_until)
            return TariffChange(created, ended)

    async def replace(self, tariff_id: int, draft: TariffDraft) -> Tariff:
        """Change a tariff in place; the hours of its old and new dates are re-priced."""
        draft = draft.validated()
        async with self._lock, self._sessions.begin() as session:
            existing = await self._load(session)
            old = _find(existing, tariff_id)
            candidate = draft.stored_as(tariff_id)
            self._check(candidate, [t for t in existing if t.id != tariff_id])
            await session.execute(
                update(EnergyPrice).where(EnergyPrice.id == tariff_id).values(**_fields(draft))
            )
            await self._reprice(
                session,
                min(old.valid_from, draft.valid_from),
                _later_end(old.valid_until, draft.valid_until),
            )
            return candidate

    async def delete(self, tariff_id: int) -> Tariff:
        """Remove a tariff; the hours it priced fall back to whatever else applies (or none)."""
        async with self._lock, self._sessions.begin() as session:
            old = _find(await self._load(session), tariff_id)
            await session.execute(delete(EnergyPrice).where(EnergyPrice.id == tariff_id))
            await self._reprice(session, old.valid_from, old.valid_until)
            return old

    @staticmethod
    async def _load(session: AsyncSession) -> list[Tariff]:
        rows = await session.scalars(select(EnergyPrice).order_by(EnergyPrice.valid_from))
        return [Tariff.from_row(row) for row in rows]

    @staticmethod
    def _check(candidate: Tariff, others: Sequence[Tariff]) -> None:
        for other in others:
            if other.currency != candidate.currency:
                raise TariffConflict(
                    f"All tariffs must use one currency; the others use {other.currency}."
                )
        for other in others:
            if _dates_overlap(candidate, other) and _same_kind_overlap(candidate, other):
                until = f" until {other.valid_until}" if other.valid_until else ""
                raise TariffConflict(
                    f"This tariff overlaps “{other.name}” (from {other.valid_from}{until}). "
                    "Change its dates or hours, or end the other one first."
                )

    async def _reprice(self, session: AsyncSession, first: date, until: date | None) -> None:
        """Re-price the stored hours of local days ``[first, until)`` and their days."""
        today = self._calendar.local_date(self._clock.now())
        first = max(first, today - timedelta(days=HOURLY_RETENTION_DAYS))
        horizon = floor_hour(self._clock.now()) + HOUR
        end = min(self._calendar.day_start(until), horizon) if until else horizon
        start = self._calendar.day_start(first)
        if start >= end:
            return
        device_ids = [device.id for device in await list_devices(session)]
        if not device_ids:
            return
        schedule = await self.schedule(session)
        await reprice_hours(session, device_ids, schedule.weight_runs(start, end))
        last_day = self._calendar.local_date(end - timedelta(microseconds=1))
        await reprice_days(session, self._calendar, device_ids, first, last_day)


def _fields(draft: TariffDraft) -> dict[str, Any]:
    return {
        "name": draft.name,
        "price_per_kwh_micros": draft.price_per_kwh_micros,
        "currency": draft.currency,
        "valid_from": draft.valid_from,
        "valid_until": draft.valid_until,
        "starts_at": draft.starts_at,
        "ends_at": draft.ends_at,
    }


def _find(tariffs: Sequence[Tariff], tariff_id: int) -> Tariff:
    for tariff in tariffs:
        if tariff.id == tariff_id:
            return tariff
    raise TariffNotFound(tariff_id)


def _later_end(a: date | None, b: date | None) -> date | None:
    return None if a is None or b is None else max(a, b)
