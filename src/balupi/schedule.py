"""Periodic jobs on a ``TaskOwner``: "every N seconds", "hourly at :MM", "daily at HH:MM".

BaluPi has a handful of jobs (CPU samples, session expiry, energy roll-ups, backups, pruning);
a job scheduler library cost ~1 MB and ~15 ms at start on a 1 GB Pi for them (issue 14). Each
job here is one loop task on the owner that sleeps on the ``Clock`` until it is due, runs the
job to the end (so never two runs of one job at once) and computes its next time from the
clock afterwards: runs missed while a job overran are skipped, not made up back to back.
Calendar times are wall-clock times in the given zone (``settings.zone``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from balupi.clock import Clock
from balupi.logs import get_logger
from balupi.tasks import TaskOwner

log = get_logger(__name__)

JobFunc = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Every:
    """At a fixed rate, the first run one period after the job is added."""

    seconds: float


@dataclass(frozen=True)
class At:
    """At ``hour``:``minute`` every day, or at ``:minute`` of every hour when ``hour`` is None."""

    minute: int
    hour: int | None = None

    def next_after(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The first such wall-clock time in ``zone`` strictly after ``moment`` (aware)."""
        if self.hour is None:
            # Minute by minute in UTC: correct across DST changes and half-hour offsets alike.
            start = moment.astimezone(UTC).replace(second=0, microsecond=0)
            for step in range(1, 62):
                candidate = start + timedelta(minutes=step)
                if candidate.astimezone(zone).minute == self.minute:
                    return candidate
            raise AssertionError("every hour has each minute")  # pragma: no cover
        day = moment.astimezone(zone).date()
        for step in range(3):
            candidate = datetime.combine(day + timedelta(days=step), time(self.hour, self.minute))
            aware = candidate.replace(tzinfo=zone)
            if aware > moment:
                return aware
        raise AssertionError("every day has each hour")  # pragma: no cover


@dataclass(frozen=True)
class Job:
    name: str
    func: JobFunc
    timing: Every | At
    first_after: float | None = None  # seconds: one extra, early run after start-up


class Scheduler:
    """Adds each job as a loop task on ``owner``; closing the owner ends every job."""

    def __init__(self, owner: TaskOwner, clock: Clock, zone: ZoneInfo) -> None:
        self._owner = owner
        self._clock = clock
        self._zone = zone
        self._jobs: dict[str, Job] = {}

    def every(self, seconds: float, func: JobFunc, *, name: str) -> Job:
        return self._add(Job(name, func, Every(seconds)))

    def hourly(
        self, minute: int, func: JobFunc, *, name: str, first_after: float | None = None
    ) -> Job:
        return self._add(Job(name, func, At(minute), first_after))

    def daily(self, hour: int, minute: int, func: JobFunc, *, name: str) -> Job:
        return self._add(Job(name, func, At(minute, hour)))

    def get_job(self, name: str) -> Job | None:
        return self._jobs.get(name)

    def run_soon(self, func: JobFunc, *, name: str) -> None:
        """Run ``func`` once now, unless a run of that name is still going (it covers this)."""
        if not self._owner.running(name):
            self._owner.spawn(self._run(name, func), name=name)

    def _add(self, job: Job) -> Job:
        if job.name in self._jobs:
            raise ValueError(f"a job called {job.name!r} is already scheduled")
        self._jobs[job.name] = job
        self._owner.spawn(self._loop(job), name=f"job {job.name}")
        return job

    async def _loop(self, job: Job) -> None:
        if job.first_after is not None:
            await self._clock.sleep(job.first_after)
            await self._run(job.name, job.func)
        timing = job.timing
        if isinstance(timing, Every):
            due = self._clock.monotonic() + timing.seconds
            while True:
                await self._clock.sleep(due - self._clock.monotonic())
                await self._run(job.name, job.func)
                while due <= self._clock.monotonic():  # overran: skip the missed slots
                    due += timing.seconds
        while True:
            when = timing.next_after(self._clock.now(), self._zone)
            # Re-checked after each sleep: the wall clock may have been set meanwhile.
            while (left := (when - self._clock.now()).total_seconds()) > 0:
                await self._clock.sleep(left)
            await self._run(job.name, job.func)

    async def _run(self, name: str, func: JobFunc) -> None:
        try:
            await func()
        except Exception:  # a job's failure is logged; its next run comes as planned
            log.exception("scheduled job failed", job=name)
