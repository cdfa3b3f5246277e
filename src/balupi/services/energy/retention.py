"""Retention: raw readings for 7 days, hourly roll-ups for a year, daily roll-ups forever.

Two rules beyond age keep it from ever losing data that is not yet summarised elsewhere:

* raw readings are deleted only below the plug's hourly watermark (less one gap length, the
  readings the next hour still needs to integrate across its start), so after a long outage of
  the roll-up job the backlog is aggregated before it is pruned;
* hourly roll-ups go by whole local days and only below the daily watermark, so every day that
  still has hours has all of them (tariff changes re-derive days from their hours).

Deletes run in chunks of ``RAW_CHUNK`` / ``HOURLY_CHUNK`` of time, one short transaction each,
so the first run after months of downtime never holds the write lock for long.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from balupi.clock import Clock
from balupi.db.models import EnergyHourly, EnergySample
from balupi.services.energy.calendar import LocalCalendar
from balupi.services.energy.store import first_hour_at, first_sample_at, list_devices

RAW_RETENTION_DAYS: Final = 7
HOURLY_RETENTION_DAYS: Final = 365
RAW_CHUNK: Final = timedelta(hours=12)
HOURLY_CHUNK: Final = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class PruneReport:
    samples_deleted: int
    hours_deleted: int


class EnergyRetention:
    """Deletes what has outlived its retention (see the module docstring)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        calendar: LocalCalendar,
        clock: Clock,
        *,
        max_gap_s: float,
    ) -> None:
        self._sessions = sessions
        self._calendar = calendar
        self._clock = clock
        self._max_gap = timedelta(seconds=max_gap_s)

    def raw_horizon(self) -> datetime:
        """Readings before this instant are due for deletion."""
        return self._clock.now() - timedelta(days=RAW_RETENTION_DAYS)

    def hourly_horizon(self) -> datetime:
        """Hours before this instant (a local midnight) are due for deletion."""
        today = self._calendar.local_date(self._clock.now())
        return self._calendar.day_start(today - timedelta(days=HOURLY_RETENTION_DAYS))

    async def prune(self) -> PruneReport:
        samples = hours = 0
        raw_horizon, hourly_horizon = self.raw_horizon(), self.hourly_horizon()
        async with self._sessions() as session:
            devices = await list_devices(session)
        for device in devices:
            if device.hourly_done_until is not None:
                limit = min(raw_horizon, device.hourly_done_until - self._max_gap)
                samples += await self._prune(_RAW, device.id, limit)
            if device.daily_done_until is not None:
                limit = min(hourly_horizon, self._calendar.day_start(device.daily_done_until))
                hours += await self._prune(_HOURLY, device.id, limit)
        return PruneReport(samples, hours)

    async def _prune(self, table: _Table, device_id: int, limit: datetime) -> int:
        """Delete ``table``'s rows of the plug older than ``limit``, one chunk per transaction."""
        deleted = 0
        while True:
            async with self._sessions.begin() as session:
                oldest = await table.oldest(session, device_id)
                if oldest is None or oldest >= limit:
                    return deleted
                chunk_end = min(oldest + table.chunk, limit)
                result = await session.execute(
                    delete(table.model).where(
                        table.model.device_id == device_id, table.time < chunk_end
                    )
                )
                deleted += _rowcount(result)


@dataclass(frozen=True)
class _Table:
    """What pruning needs to know of one table of readings."""

    model: type[EnergySample] | type[EnergyHourly]
    time: InstrumentedAttribute[datetime]
    oldest: Callable[[AsyncSession, int], Awaitable[datetime | None]]
    chunk: timedelta


_RAW: Final = _Table(EnergySample, EnergySample.ts, first_sample_at, RAW_CHUNK)
_HOURLY: Final = _Table(EnergyHourly, EnergyHourly.hour_start, first_hour_at, HOURLY_CHUNK)


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount
