"""Time, injected: services ask a ``Clock`` instead of calling ``time`` or ``datetime`` directly.

Tests hand them a ``ManualClock`` and move it forward, so no test sleeps to wait for time to pass.
Loops sleep through the clock too (``await clock.sleep(30)``): on a ``ManualClock`` the sleep ends
when the test's ``advance()`` passes the wake-up time, so a test steps a loop one round at a time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for durations and timeouts)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` have passed on this clock (at once if not positive)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class ManualClock:
    """A clock that moves only when told to: ``clock.advance(seconds=30)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._monotonic = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []  # heap by wake time
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    async def sleep(self, seconds: float) -> None:
        """Until ``advance``/``set`` move the clock ``seconds`` on; yields once if not positive."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._monotonic + seconds, next(self._order), woken))
        await woken  # a cancelled sleeper is dropped when its time comes

    @property
    def sleepers(self) -> int:
        """How many sleeps are waiting for the clock to move (tests wait for a loop to park)."""
        return sum(1 for _, _, woken in self._sleepers if not woken.done())

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds
        self._wake_due()

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (aware); the monotonic clock moves by the same amount, never back."""
        delta = (moment - self._now).total_seconds()
        self._now = moment
        self._monotonic += max(delta, 0.0)
        self._wake_due()

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._monotonic:
            _, _, woken = heapq.heappop(self._sleepers)
            if not woken.done():
                woken.set_result(None)


def utc_iso(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``, as BaluHost writes timestamps (and clients parse them)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def wait_or_sleep(clock: Clock, event: asyncio.Event, seconds: float) -> bool:
    """Wait for ``event`` at most ``seconds`` on ``clock``; True if it was set.

    What loops that can be poked (a new upload, a state change) do between rounds, on the
    clock's time rather than the loop's, so a ``ManualClock`` drives them too.
    """
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait((waiter, sleeper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for side in (waiter, sleeper):
            side.cancel()
        await asyncio.gather(waiter, sleeper, return_exceptions=True)
    return event.is_set()
