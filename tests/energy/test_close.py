"""``EnergyService.aclose`` waits for a running job *run*, not for the task that runs it.

A scheduled job runs inside its scheduler loop, a task that never ends; a roll-up may also be
run by a request's task. Shutdown waits for the run to finish its batch and then goes on, rather
than for the whole ``CLOSE_TIMEOUT_S`` each time a job happened to be running.
"""

from __future__ import annotations

import asyncio
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.schedule import Scheduler
from balupi.services.energy import EnergyService
from balupi.services.energy.service import STARTUP_DELAY
from balupi.tasks import TaskOwner
from tests.waiting import eventually


class HeldRollup:
    """An aggregator whose run lasts until the test releases it."""

    def __init__(self) -> None:
        self.running = False
        self.release = asyncio.Event()

    async def run(self, _stop: object) -> None:
        self.running = True
        await self.release.wait()


async def test_close_returns_once_the_running_job_is_done() -> None:
    clock = ManualClock()
    energy = EnergyService(
        cast(async_sessionmaker[AsyncSession], None), clock, ZoneInfo("UTC"), poll_seconds=30
    )
    held = HeldRollup()
    energy.aggregator = held  # type: ignore[assignment]
    async with TaskOwner("jobs") as tasks:
        energy.schedule(Scheduler(tasks, clock, ZoneInfo("UTC")))
        await eventually(lambda: clock.sleepers >= 2, timeout=5, interval=0)
        clock.advance(STARTUP_DELAY.total_seconds())  # the start-up roll-up begins
        await eventually(lambda: held.running, timeout=5, interval=0)

        closing = asyncio.create_task(energy.aclose())
        await asyncio.sleep(0)
        held.release.set()  # the run ends; its loop task goes on to sleep until :05
        await asyncio.wait_for(closing, 2)
