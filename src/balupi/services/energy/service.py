"""``EnergyService``: roll-ups, retention, tariffs, history, costs and the summary, built once.

Live readings and the plugs themselves belong to the Tapo service; this one only reads what it
stored. Its two calendar jobs run on the app's scheduler (``balupi.schedule``, ``schedule``): the
roll-up at minute 5 of every hour and once shortly after start-up (the backfill after downtime),
and retention every night. A run that comes late (a Pi that was busy or suspended) still runs,
once: missed runs are coalesced, because the work should be done when the Pi can.

One ``asyncio.Lock`` is shared by the roll-up and tariff changes: hours are priced and re-priced
one at a time, never from two tariff lists at once. ``aclose`` lets a running job finish its
current batch and stops it there, so the database is never closed under it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.logs import get_logger
from balupi.schedule import Scheduler
from balupi.services.energy.aggregation import EnergyAggregator, RollupPolicy, RollupReport
from balupi.services.energy.calendar import LocalCalendar
from balupi.services.energy.costs import CostReporter
from balupi.services.energy.history import EnergyHistory
from balupi.services.energy.retention import EnergyRetention, PruneReport
from balupi.services.energy.summary import EnergySummary
from balupi.services.energy.tariff_book import TariffBook

log = get_logger(__name__)

T = TypeVar("T")

ROLLUP_JOB: Final = "energy_rollup"
RETENTION_JOB: Final = "energy_retention"
STARTUP_DELAY: Final = timedelta(seconds=5)
CLOSE_TIMEOUT_S: Final = 10.0


class EnergyService:
    """The energy data of all plugs (see the module docstring)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        zone: ZoneInfo,
        *,
        poll_seconds: float,
        policy: RollupPolicy | None = None,
    ) -> None:
        self.calendar = LocalCalendar(zone)
        self.policy = policy or RollupPolicy.for_poll_interval(poll_seconds)
        self.lock = asyncio.Lock()
        gap = self.policy.max_gap_s
        self.tariffs = TariffBook(sessions, self.calendar, clock, self.lock)
        self.aggregator = EnergyAggregator(
            sessions, self.calendar, clock, self.policy, self.tariffs, self.lock
        )
        self.retention = EnergyRetention(sessions, self.calendar, clock, max_gap_s=gap)
        self.history = EnergyHistory(
            sessions,
            self.calendar,
            clock,
            self.retention,
            max_gap_s=gap,
            settle_s=self.policy.settle_s,
        )
        self.costs = CostReporter(sessions, self.calendar, clock)
        self.summary = EnergySummary(sessions, self.calendar, clock)
        self._closing = False
        # One future per job run in progress, done when the run is: the task running it (the
        # scheduler's loop, a request) goes on afterwards, so shutdown cannot wait for the task.
        self._active: set[asyncio.Future[None]] = set()

    async def roll_up(self) -> RollupReport | None:
        """The roll-up job: closed hours and complete days, backlog first."""
        return await self._tracked(lambda: self.aggregator.run(lambda: self._closing))

    async def prune(self) -> PruneReport | None:
        """The retention job."""
        report = await self._tracked(self.retention.prune)
        if report and (report.samples_deleted or report.hours_deleted):
            log.info("energy pruned", samples=report.samples_deleted, hours=report.hours_deleted)
        return report

    def schedule(self, scheduler: Scheduler) -> None:
        """Add the roll-up (hourly at :05, and once soon after start-up) and retention jobs."""
        scheduler.hourly(
            5, self.roll_up, name=ROLLUP_JOB, first_after=STARTUP_DELAY.total_seconds()
        )
        scheduler.daily(3, 35, self.prune, name=RETENTION_JOB)

    async def aclose(self) -> None:
        """Stop taking new job runs; wait (bounded) for a running one to finish its batch."""
        self._closing = True
        if self._active:
            await asyncio.wait(self._active, timeout=CLOSE_TIMEOUT_S)

    async def _tracked(self, work: Callable[[], Awaitable[T]]) -> T | None:
        if self._closing:
            return None
        run: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._active.add(run)
        try:
            return await work()
        finally:
            self._active.discard(run)
            run.set_result(None)
