"""``TariffBook``: the stored tariffs, and changes to them that keep the stored costs true.

**Dated, so the past keeps its prices.** A new all-day tariff without an end replaces the
previous open-ended one *from its own date on*: the predecessor gets ``valid_until`` = the new
``valid_from`` (the same for a windowed tariff with the very same window). Every other overlap
between all-day tariffs, or between windowed tariffs whose windows intersect, is refused (409),
so at no instant two prices compete.
Costs are stored per hour as the tariffs were when the hour was priced; a change re-prices only
the hours inside the changed tariffs' dates, so nothing before a new price's date changes. A
tariff dated in the past is a correction and re-prices the stored hours from its date on, as far
back as hourly data is kept (one year); days older than that keep the costs they had.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.db.models import EnergyPrice
from balupi.services.energy.calendar import HOUR, LocalCalendar, floor_hour
from balupi.services.energy.costs import reprice_days, reprice_hours
from balupi.services.energy.errors import TariffConflict, TariffNotFound
from balupi.services.energy.retention import HOURLY_RETENTION_DAYS
from balupi.services.energy.store import list_devices
from balupi.services.energy.tariffs import Tariff, TariffDraft, TariffSchedule


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
