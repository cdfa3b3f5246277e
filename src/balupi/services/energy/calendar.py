"""Local calendar periods as UTC instants: what "a day" means for energy.

Readings and hourly roll-ups are stored per UTC instant; days, weeks, months and years are the
configured ``TIMEZONE``'s. An earlier BaluPi bucketed days in UTC, so in Berlin every "day" ended
one or two hours before local midnight. Here a local day runs from its local midnight to the next
one: 23 hours on the spring DST day, 25 on the autumn one, and both ends are found by asking the
zone rather than by adding 24 hours.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)


class Period(enum.StrEnum):
    """A calendar period of the configured zone (weeks start on Monday, ISO 8601)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


def floor_hour(moment: datetime) -> datetime:
    """The start of the UTC hour holding ``moment`` (aware, UTC)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


class LocalCalendar:
    """Turns local dates of one zone into UTC instants and back."""

    # Day starts are asked for thousands of times per year chart (ten plugs x 365 days);
    # remembering them costs a few hundred KB at most.
    _MEMO_DAYS = 8192

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._day_starts: dict[date, datetime] = {}

    def local_date(self, moment: datetime) -> date:
        """The local calendar date at ``moment``."""
        return moment.astimezone(self.zone).date()

    def day_start(self, day: date) -> datetime:
        """The UTC instant of local midnight starting ``day``.

        Where a DST change skips midnight itself, the zone's first wall time of that day counts
        (zoneinfo resolves the missing time forwards), so day starts always increase.
        """
        start = self._day_starts.get(day)
        if start is None:
            if len(self._day_starts) >= self._MEMO_DAYS:
                self._day_starts.clear()
            start = datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)
            self._day_starts[day] = start
        return start

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """``day`` as a half-open UTC interval ``[start, end)``: 23, 24 or 25 hours long."""
        return self.day_start(day), self.day_start(day + timedelta(days=1))

    def period_days(self, period: Period, day: date) -> tuple[date, date]:
        """The local dates ``[first, end)`` of the ``period`` holding ``day``."""
        if period is Period.DAY:
            return day, day + timedelta(days=1)
        if period is Period.WEEK:
            first = day - timedelta(days=day.weekday())
            return first, first + timedelta(days=7)
        if period is Period.MONTH:
            first = day.replace(day=1)
            return first, first_of_next_month(first)
        return date(day.year, 1, 1), date(day.year + 1, 1, 1)

    def local_iso(self, moment: datetime) -> str:
        """``moment`` as local ISO-8601 with its offset: tells the two 02:00s of autumn apart."""
        return moment.astimezone(self.zone).isoformat(timespec="minutes")
