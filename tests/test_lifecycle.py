"""One lifecycle, one task owner, a clock that sleeps, and the scheduler built on them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi import schedule, tasks
from balupi.clock import ManualClock, wait_or_sleep
from balupi.lifecycle import Lifecycle, LifecycleError, LifecycleState
from balupi.schedule import At, Scheduler
from balupi.services.nas.history import LinkHistory
from balupi.services.nas.link import NasLink
from balupi.services.uploads.conflicts import Conflicts
from balupi.services.uploads.tokens import OwnerTokens
from balupi.services.uploads.worker import SyncWorker, WorkerSettings
from balupi.tasks import TaskOwner, cancel_and_wait, joined
from tests.waiting import eventually

BERLIN = ZoneInfo("Europe/Berlin")


async def settle(clock: ManualClock, sleepers: int = 1) -> None:
    """Until ``sleepers`` sleeps are parked on ``clock`` (a loop finished its round)."""
    await eventually(lambda: clock.sleepers >= sleepers, timeout=5, interval=0)


class Ticker(Lifecycle):
    """A service with one loop that counts a tick per second of ``clock``."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.ticks = 0
        self.closed_with_loop_done: bool | None = None
        self._loop: asyncio.Task[None] | None = None

    async def _open(self) -> None:
        self._loop = self._spawn(self._run(), name="ticker")

    async def _close(self) -> None:
        self.closed_with_loop_done = self._loop is not None and self._loop.done()

    async def _run(self) -> None:
        while True:
            await self.clock.sleep(1)
            self.ticks += 1


async def test_a_service_starts_once_and_closes_any_number_of_times() -> None:
    ticker = Ticker(ManualClock())
    assert ticker.lifecycle_state is LifecycleState.UNOPENED
    await ticker.start()
    with pytest.raises(LifecycleError, match="already started"):
        await ticker.start()
    await ticker.aclose()
    await ticker.aclose()
    assert ticker.lifecycle_state is LifecycleState.CLOSED
    assert ticker.closed_with_loop_done  # its loop ended before its resources were released
    with pytest.raises(LifecycleError, match="cannot be started again"):
        await ticker.start()


async def test_a_loop_steps_on_manual_time() -> None:
    clock = ManualClock()
    async with Ticker(clock) as ticker:
        await settle(clock)
        assert ticker.ticks == 0  # no real time makes it tick
        clock.advance(1)
        await settle(clock)
        assert ticker.ticks == 1
        clock.advance(0.5)
        await asyncio.sleep(0)
        assert ticker.ticks == 1
        clock.advance(0.5)
        await settle(clock)
        assert ticker.ticks == 2


async def test_a_failed_open_releases_what_was_opened() -> None:
    class Broken(Ticker):
        async def _open(self) -> None:
            await super()._open()
            raise OSError("port taken")

    broken = Broken(ManualClock())
    with pytest.raises(OSError, match="port taken"):
        await broken.start()
    assert broken.lifecycle_state is LifecycleState.CLOSED
    assert broken.closed_with_loop_done


async def test_wait_or_sleep_ends_on_the_event_or_on_manual_time() -> None:
    clock = ManualClock()
    event = asyncio.Event()
    waiting = asyncio.create_task(wait_or_sleep(clock, event, 10))
    await settle(clock)
    event.set()
    assert await waiting is True
    event.clear()
    waiting = asyncio.create_task(wait_or_sleep(clock, event, 10))
    await settle(clock)
    clock.advance(10)
    assert await waiting is False


async def test_the_owner_cancels_its_tasks_on_close_and_then_takes_no_more() -> None:
    owner = TaskOwner("test")
    stuck = owner.spawn(asyncio.Event().wait(), name="waits for ever")
    await asyncio.sleep(0)
    await owner.aclose()
    assert stuck.cancelled()
    with pytest.raises(LifecycleError, match="takes no new task"):
        owner.spawn(asyncio.sleep(0), name="too late")
    await owner.aclose()


class Looper(Lifecycle):
    """A service whose loop runs until cancelled; winding down may be told to fail."""

    def __init__(self, *, fail_closing: bool = False) -> None:
        self.fail_closing = fail_closing
        self.loop: asyncio.Task[None] | None = None
        self.loop_done_at_close: bool | None = None

    async def _open(self) -> None:
        self.loop = self._spawn(asyncio.Event().wait(), name="loop")

    async def _closing(self) -> None:
        if self.fail_closing:
            raise RuntimeError("winding down failed")

    async def _close(self) -> None:
        assert self.loop is not None
        self.loop_done_at_close = self.loop.done()


async def test_a_failed_wind_down_still_ends_the_loops_before_resources_go() -> None:
    service = Looper(fail_closing=True)
    await service.start()
    with pytest.raises(RuntimeError, match="winding down failed"):
        await service.aclose()
    assert service.loop is not None
    assert service.loop.cancelled()
    assert service.loop_done_at_close is True


async def test_a_closed_service_spawns_no_task_without_an_owner() -> None:
    service = Looper()
    await service.aclose()  # closed before it ever started: it has no owner yet
    with pytest.raises(LifecycleError, match="closed"):
        service._spawn(asyncio.Event().wait(), name="late")


async def test_a_finished_task_leaves_its_owner_and_cancel_and_wait_swallows_only_its_own() -> None:
    # (That a failed task is reported: test_an_owned_task_s_failure_is_logged_unless_...)
    async with TaskOwner("test") as owner:
        finished = owner.spawn(asyncio.sleep(0, result=None), name="fine")
        await finished
        assert len(owner) == 0

    forever = asyncio.create_task(asyncio.Event().wait())
    await cancel_and_wait(forever, grace=1)
    assert forever.cancelled()

    async def closer() -> None:
        hanging = asyncio.create_task(asyncio.Event().wait())
        await cancel_and_wait(hanging)

    outer = asyncio.create_task(closer())
    await asyncio.sleep(0)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer  # the caller's own cancellation goes on up


class _Log:
    """Stands in for a module's logger: records the events logged at error level."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []

    def error(self, event: str, **fields: object) -> None:
        self.events.append((event, fields))

    def exception(self, event: str, **fields: object) -> None:
        self.events.append((event, fields))


async def _fail() -> None:
    raise RuntimeError("boom")


async def test_an_owned_task_s_failure_is_logged_unless_its_awaiter_takes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = _Log()
    monkeypatch.setattr(tasks, "log", log)
    async with TaskOwner("test") as owner:
        reported = owner.spawn(_fail(), name="reported")
        quiet = owner.spawn(_fail(), name="quiet", report_errors=False)
        await asyncio.wait([reported, quiet])
        await asyncio.sleep(0)  # done callbacks run on a later step of the loop
    assert [(event, fields["task"]) for event, fields in log.events] == [
        ("background task failed", "reported")
    ]


async def test_a_failed_scheduled_run_is_logged_and_the_job_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = _Log()
    monkeypatch.setattr(schedule, "log", log)
    clock = ManualClock()
    async with TaskOwner("jobs") as owner:
        Scheduler(owner, clock, BERLIN).every(5, _fail, name="sample")
        for _ in range(2):
            await settle(clock)
            clock.advance(5)
        await settle(clock)
    assert log.events == [("scheduled job failed", {"job": "sample"})] * 2


async def test_every_runs_at_a_fixed_rate_on_the_clock() -> None:
    clock = ManualClock()
    runs: list[float] = []

    async def job() -> None:
        runs.append(clock.monotonic())

    async with TaskOwner("jobs") as owner:
        Scheduler(owner, clock, BERLIN).every(5, job, name="sample")
        await settle(clock)
        assert runs == []  # the first run comes one period after the job is added
        for _ in range(3):
            clock.advance(5)
            await settle(clock)
    assert runs == [1005.0, 1010.0, 1015.0]


async def test_daily_runs_at_the_wall_clock_time_in_the_zone_and_logs_failures() -> None:
    clock = ManualClock(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))  # the day before DST starts
    runs: list[datetime] = []

    async def job() -> None:
        runs.append(clock.now())
        raise RuntimeError("a failed run does not end the job")

    async with TaskOwner("jobs") as owner:
        scheduler = Scheduler(owner, clock, BERLIN)
        scheduler.daily(3, 35, job, name="prune")
        assert scheduler.get_job("prune") is not None
        for _ in range(2 * 24 * 12):  # two days in five-minute steps
            await settle(clock)
            clock.advance(300)
        await settle(clock)
    # 03:35 in Berlin: 02:35 UTC in winter, 01:35 UTC from 29 March (summer time)
    assert [run.astimezone(BERLIN).strftime("%d %H:%M") for run in runs] == ["29 03:35", "30 03:35"]


def test_calendar_times_across_zones_and_hours() -> None:
    noon = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    assert At(5).next_after(noon, BERLIN) == datetime(2026, 3, 29, 12, 5, tzinfo=UTC)
    kolkata = ZoneInfo("Asia/Kolkata")  # +05:30: :05 local is :35 UTC
    assert At(5).next_after(noon, kolkata) == datetime(2026, 3, 29, 12, 35, tzinfo=UTC)
    assert At(15, 4).next_after(noon, BERLIN) == datetime(2026, 3, 30, 2, 15, tzinfo=UTC)


async def test_joined_swallows_the_tasks_cancellation_not_the_waiters() -> None:
    blocker = asyncio.Event()
    task = asyncio.create_task(blocker.wait())
    waiter = asyncio.create_task(joined(task))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not task.done()  # shielded: the waiter leaving does not stop the task
    task.cancel()
    await joined(task)  # the task's own cancellation: nothing raised


async def test_the_sync_worker_waits_on_the_clock_and_wakes_on_a_kick(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """While the NAS is not online the worker looks once per idle period of the clock; the NAS
    coming online kicks it at once, with no time passing."""
    clock = ManualClock()
    link = NasLink(None, LinkHistory(sessions), clock)  # no NAS URL: state from evidence only
    worker = SyncWorker(
        sessions, link, cast(OwnerTokens, None), cast(Conflicts, None), clock, WorkerSettings()
    )
    async with link, worker:
        await eventually(lambda: worker.passes_skipped == 1 and clock.sleepers == 1)
        clock.advance(worker.settings.idle_pass_seconds)
        await eventually(lambda: worker.passes_skipped == 2 and clock.sleepers == 1)
        assert worker.passes == 0
        await link.report_coming_online()
        await eventually(lambda: worker.passes == 1)
    with pytest.raises(LifecycleError):
        await worker.start()


async def test_a_nas_client_never_started_still_releases_its_pool() -> None:
    from balupi.services.nas.client import NasClient

    client = NasClient("http://127.0.0.1:9")
    await client.aclose()
    assert client._client.is_closed
    await client.aclose()  # again: harmless
