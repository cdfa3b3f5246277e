"""The roll-up job: raw readings into closed UTC hours, closed hours into local days.

**Only closed hours, once.** An hour is rolled up when it is over and the readings that could
still belong to it have had time to arrive: ``settle`` after its end (the longest stretch the
integral bridges, plus a margin for the poller's write). Each plug carries two watermarks,
``hourly_done_until`` and ``daily_done_until``; a run starts at them, writes the roll-ups and
moves them forward in the same transaction, so a second run finds nothing to do and a crash
leaves either both or neither. (The earlier BaluPi re-aggregated "the last two hours" on every
run; each hour's last write covered only its final 55 minutes.)

**Backfill.** After downtime the watermarks are simply behind; the next run (one runs at start-up)
works through the backlog in batches of ``hours_per_batch`` hours or ``days_per_batch`` days of
one plug, each its own short transaction under the energy lock, yielding to the event loop between
them, up to ``max_batches`` per run. Stretches without readings are skipped in one step.

**Days.** A local day is rolled up once all of its hours are (its local midnight-to-midnight span
in UTC: 23, 24 or 25 hours) by folding its hours (``store.days_from_hours``); its cost is the sum
of its hours' costs.

**Cross-check.** For hours measured (almost) completely, the integral is compared with the plug's
own counter; a disagreement beyond the counter's whole-Wh resolution is logged once per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.logs import get_logger
from balupi.services.energy.calendar import HOUR, LocalCalendar, floor_hour
from balupi.services.energy.costs import reprice_hours
from balupi.services.energy.errors import DeviceNotFound
from balupi.services.energy.integration import Rollup, integrate
from balupi.services.energy.store import (
    DeviceInfo,
    days_from_hours,
    first_hour_at,
    first_sample_at,
    hourly_rollups,
    list_devices,
    load_readings,
    set_watermarks,
    upsert_days,
    upsert_hours,
)
from balupi.services.energy.tariff_book import TariffBook

log = get_logger(__name__)

# Readings arrive a little after they are taken (poll time-outs, write batching).
WRITE_MARGIN_S: Final = 120.0
GAP_POLL_INTERVALS: Final = 3
# Cross-check: hours with at least this much coverage, and the tolerated disagreement.
CHECK_MIN_COVERED_S: Final = 3540
CHECK_TOLERANCE_WH: Final = 2.0
CHECK_TOLERANCE_SHARE: Final = 0.1


@dataclass(frozen=True, slots=True)
class RollupPolicy:
    """How the roll-up reads time: the gap it will not bridge, and when an hour is closed."""

    max_gap_s: float
    settle_s: float
    hours_per_batch: int = 24
    days_per_batch: int = 31
    max_batches: int = 1000

    @classmethod
    def for_poll_interval(cls, poll_seconds: float, **limits: int) -> RollupPolicy:
        """A gap is more than three missed polls; an hour settles one gap plus a margin later."""
        gap = GAP_POLL_INTERVALS * poll_seconds
        return cls(max_gap_s=gap, settle_s=gap + WRITE_MARGIN_S, **limits)


class _Budget:
    """The batches one run may still spend; stops early when the service is closing."""

    def __init__(self, batches: int, should_stop: Callable[[], bool]) -> None:
        self.used = 0
        self.unfinished = False  # some plug still had work when the budget ran out
        self._limit = batches
        self._should_stop = should_stop

    async def drain(
        self,
        step: Callable[[int, datetime], Awaitable[tuple[int, bool]]],
        device_id: int,
        cutoff: datetime,
    ) -> int:
        """Run ``step`` for one plug until it has nothing more to do or the budget is spent."""
        written, more = 0, True
        while more:
            if self.used >= self._limit or self._should_stop():
                self.unfinished = True
                break
            count, more = await step(device_id, cutoff)
            self.used += 1
            written += count
            await asyncio.sleep(0)  # let requests in between batches
        return written


@dataclass(frozen=True, slots=True)
class RollupReport:
    hours_written: int
    days_written: int
    batches: int
    caught_up: bool


class EnergyAggregator:
    """Rolls raw readings into hours and hours into days (see the module docstring)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        calendar: LocalCalendar,
        clock: Clock,
        policy: RollupPolicy,
        tariffs: TariffBook,
        lock: asyncio.Lock,
    ) -> None:
        self._sessions = sessions
        self._calendar = calendar
        self._clock = clock
        self.policy = policy
        self._tariffs = tariffs
        self._lock = lock

    def closed_until(self) -> datetime:
        """Hours starting before this instant are closed and settled."""
        return floor_hour(self._clock.now() - timedelta(seconds=self.policy.settle_s))

    async def run(self, should_stop: Callable[[], bool] = lambda: False) -> RollupReport:
        """Catch up hours, then days, for every plug; at most ``max_batches`` batches."""
        cutoff = self.closed_until()
        budget = _Budget(self.policy.max_batches, should_stop)
        async with self._sessions() as session:
            device_ids = [device.id for device in await list_devices(session)]
        hours = days = 0
        for device_id in device_ids:
            hours += await budget.drain(self._hour_batch, device_id, cutoff)
        for device_id in device_ids:
            days += await budget.drain(self._day_batch, device_id, cutoff)
        if hours or days:
            log.info("energy rolled up", hours=hours, days=days, batches=budget.used)
        return RollupReport(hours, days, budget.used, not budget.unfinished)

    @staticmethod
    async def _device(session: AsyncSession, device_id: int) -> DeviceInfo | None:
        try:
            return (await list_devices(session, device_id))[0]
        except DeviceNotFound:  # removed since the run began
            return None

    async def _hour_batch(self, device_id: int, cutoff: datetime) -> tuple[int, bool]:
        """Roll up the next batch of one plug's hours; (hours written, more to do)."""
        gap = timedelta(seconds=self.policy.max_gap_s)
        async with self._lock, self._sessions.begin() as session:
            device = await self._device(session, device_id)
            if device is None:
                return 0, False
            start = device.hourly_done_until
            if start is None:
                oldest = await first_sample_at(session, device_id)
                if oldest is None:
                    return 0, False
                start = floor_hour(oldest)
            if start >= cutoff:
                return 0, False
            end = min(start + self.policy.hours_per_batch * HOUR, cutoff)
            readings = await load_readings(session, device_id, start - gap, end + gap)
            hours = integrate(
                readings,
                width=3600,
                start=start.timestamp(),
                end=end.timestamp(),
                max_gap=self.policy.max_gap_s,
            )
            if not hours:  # nothing here: jump to the hour of the next reading
                following = await first_sample_at(session, device_id, not_before=end)
                end = cutoff if following is None else max(end, min(floor_hour(following), cutoff))
            await self.store_hours(session, device_id, hours)
            await set_watermarks(session, device_id, hourly_done_until=end)
        self._cross_check(device_id, hours)
        return len(hours), end < cutoff

    async def store_hours(
        self, session: AsyncSession, device_id: int, hours: Sequence[Rollup]
    ) -> None:
        """Write hours and price them with the tariffs in force: the only way hours are stored."""
        if not hours:
            return
        await upsert_hours(session, device_id, hours)
        schedule = await self._tariffs.schedule(session)
        runs = schedule.weight_runs(hours[0].start, hours[-1].start + HOUR)
        await reprice_hours(session, [device_id], runs)

    async def _day_batch(self, device_id: int, cutoff: datetime) -> tuple[int, bool]:
        """Roll up the next batch of one plug's complete local days; (days written, more)."""
        calendar = self._calendar
        async with self._lock, self._sessions.begin() as session:
            device = await self._device(session, device_id)
            if device is None or device.hourly_done_until is None:
                return 0, False
            # Days before the local date at the hourly watermark have all their hours.
            end = calendar.local_date(device.hourly_done_until)
            first = device.daily_done_until
            if first is None:
                oldest = await first_hour_at(session, device_id)
                if oldest is None:
                    return 0, False
                first = calendar.local_date(oldest)
            if first >= end:
                return 0, False
            stop = min(first + timedelta(days=self.policy.days_per_batch), end)
            days = await self.store_days(session, device_id, first, stop)
            if not days:
                following = await first_hour_at(
                    session, device_id, not_before=calendar.day_start(stop)
                )
                if following is None:
                    stop = end
                else:
                    stop = max(stop, min(calendar.local_date(following), end))
            await set_watermarks(session, device_id, daily_done_until=stop)
        return len(days), stop < end

    async def store_days(
        self, session: AsyncSession, device_id: int, first: date, end: date
    ) -> list[Rollup]:
        """Fold the stored hours of local days ``[first, end)`` into days and write them."""
        calendar = self._calendar
        hours = await hourly_rollups(
            session, [device_id], calendar.day_start(first), calendar.day_start(end)
        )
        days = days_from_hours(calendar, hours[device_id])
        await upsert_days(session, calendar, device_id, days)
        return days

    def _cross_check(self, device_id: int, hours: Sequence[Rollup]) -> None:
        disagreeing = [
            hour
            for hour in hours
            if hour.counter_wh is not None
            and hour.covered_seconds >= CHECK_MIN_COVERED_S
            and abs(hour.energy_mwh / 1000 - hour.counter_wh)
            > max(CHECK_TOLERANCE_WH, CHECK_TOLERANCE_SHARE * hour.energy_mwh / 1000)
        ]
        if disagreeing:
            first = disagreeing[0]
            log.warning(
                "energy integral and plug counter disagree",
                device_id=device_id,
                hours=len(disagreeing),
                first_hour=first.start.isoformat(),
                integral_wh=round(first.energy_mwh / 1000, 1),
                counter_wh=first.counter_wh,
            )
