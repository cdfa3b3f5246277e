"""Time, injected: services ask a ``Clock`` instead of calling ``time`` or ``datetime`` directly.

Tests hand them a ``ManualClock`` and move it forward, so no test sleeps to wait for time to pass.
"""

from __future__ import annotations

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


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to: ``clock.advance(seconds=30)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._monotonic = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (aware); the monotonic clock moves by the same amount, never back."""
        delta = (moment - self._now).total_seconds()
        self._now = moment
        self._monotonic += max(delta, 0.0)


def utc_iso(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z``, as BaluHost writes timestamps (and clients parse them)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
