"""The plug's energy and runtime counters, kept per local day.

A real Tapo plug reports today's and this month's energy (Wh) and runtime (minutes) and rolling
7- and 30-day sums; today's counters restart at local midnight, the month's on the first of the
month. Keeping one small ledger of per-day totals makes all of those sums of the same numbers,
so the resets need no code of their own: a new day simply has no entry yet. An interval that
spans midnight is split there, so a clock that jumps across midnight (or a month end) books
each part on its own day. Days are in the plug's timezone, so DST days have 23 or 25 hours.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EnergyFn = Callable[[datetime, datetime], float]

# Enough for the 30-day sums and any month; older days are dropped.
_KEEP_DAYS = 40


@dataclass
class DayTotals:
    energy_wh: float = 0.0
    on_seconds: float = 0.0


@dataclass(frozen=True)
class Usage:
    """Counters as the plug reports them: whole Wh and whole minutes, rounded down."""

    energy_wh: int
    runtime_min: int


class EnergyLedger:
    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._days: dict[date, DayTotals] = {}

    def __len__(self) -> int:
        """How many days the ledger holds."""
        return len(self._days)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def record(self, start: datetime, end: datetime, energy: EnergyFn | None) -> None:
        """Book ``start``–``end``: ``energy`` gives the Wh of a span, None means switched off."""
        if energy is None or end <= start:
            return
        # In UTC: Python subtracts two times of the same zone on the wall clock, which would
        # give a DST day 24 hours.
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        while start < end:
            day = self.local_date(start)
            midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=self.tz)
            stop = min(end, midnight.astimezone(UTC))
            totals = self._days.setdefault(day, DayTotals())
            totals.energy_wh += energy(start, stop)
            totals.on_seconds += (stop - start).total_seconds()
            start = stop
        oldest = self.local_date(end) - timedelta(days=_KEEP_DAYS)
        for day in [d for d in self._days if d < oldest]:
            del self._days[day]

    def _usage(self, days: list[DayTotals]) -> Usage:
        energy = sum(d.energy_wh for d in days)
        seconds = sum(d.on_seconds for d in days)
        # A hair of tolerance so 3600 s of 100 W is 100 Wh, not 99 after float rounding.
        return Usage(math.floor(energy + 1e-6), math.floor(seconds / 60 + 1e-6))

    def today(self, now: datetime) -> Usage:
        return self._usage([self._days.get(self.local_date(now), DayTotals())])

    def this_month(self, now: datetime) -> Usage:
        today = self.local_date(now)
        return self._usage(
            [t for d, t in self._days.items() if (d.year, d.month) == (today.year, today.month)]
        )

    def past_days(self, now: datetime, days: int) -> Usage:
        """The last ``days`` local days, today included."""
        first = self.local_date(now) - timedelta(days=days - 1)
        return self._usage([t for d, t in self._days.items() if d >= first])
