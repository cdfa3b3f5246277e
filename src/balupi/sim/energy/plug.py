"""Readings as a Tapo plug would report them for a load (the history filler's raw material).

A reading every poll interval with the poller's jitter, now and then an outage of a few minutes,
the load's draw with noise, and the plug's own ``today_wh`` / ``month_wh`` counters, which keep
counting through outages and reset at local midnight and month start.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from balupi.services.energy.integration import Reading
from balupi.sim.energy.loads import DayPlan

SECONDS_PER_DAY: Final = 86400
POLL_JITTER_S: Final = 0.8
OUTAGES_PER_DAY: Final = 0.03


class PlugSimulator:
    """Readings as a Tapo plug would give them for a load (see the module docstring)."""

    def __init__(
        self,
        plan: DayPlan,
        zone: ZoneInfo,
        *,
        interval: float,
        rng: random.Random,
        outages_per_day: float = OUTAGES_PER_DAY,
    ) -> None:
        self._plan = plan
        self._zone = zone
        self._interval = interval
        self._rng = rng
        self._outages_per_day = outages_per_day

    def readings(self, start: datetime, end: datetime) -> Iterator[Reading]:
        """Readings from ``start`` to ``end``, in time order, counters starting at zero."""
        moment, stop = start.timestamp(), end.timestamp()
        day = start.astimezone(self._zone).date()
        counters = _Counters()
        while moment < stop:
            plan = self._day(day)
            yield from self._day_readings(plan, moment, min(stop, plan.ends), counters)
            # Continue on the grid of poll instants into the next local day.
            steps = -(-(plan.ends - moment) // self._interval)
            moment += steps * self._interval
            day += timedelta(days=1)
            counters.today_wh = 0.0
            if day.day == 1:
                counters.month_wh = 0.0

    def _day_readings(
        self, plan: _Day, moment: float, stop: float, counters: _Counters
    ) -> list[Reading]:
        """One local day's readings; a tight loop over locals (a year of ten plugs is 10 M)."""
        random_ = self._rng.random
        interval = self._interval
        outage_chance = self._outages_per_day * interval / SECONDS_PER_DAY
        seconds, watts_of, noise_of = plan.seconds, plan.watts, plan.noise
        begins, shift_from, shift = plan.begins, plan.shift_from, plan.shift
        today_wh, month_wh = counters.today_wh, counters.month_wh
        outage_until = counters.outage_until
        found: list[Reading] = []
        append = found.append
        while moment < stop:
            # Wall-clock seconds since local midnight: the load follows the wall clock.
            wall = moment - begins + (shift if moment >= shift_from else 0.0)
            index = bisect.bisect_right(seconds, wall) - 1
            watts = watts_of[index]
            noise = noise_of[index]
            if noise:  # Irwin-Hall: three uniforms make a cheap bell curve of sd ``noise``
                watts += noise * 2 * (random_() + random_() + random_() - 1.5)
                if watts < 0:
                    watts = 0.0
            energy = watts * interval / 3600
            today_wh += energy
            month_wh += energy  # the plug counts through outages; only the readings stop
            if moment >= outage_until:
                if random_() < outage_chance:
                    outage_until = moment + 300 + random_() * 2100
                else:
                    taken = round(moment + random_() * POLL_JITTER_S, 3)
                    append(Reading(taken, int(watts * 1000 + 0.5), int(today_wh), int(month_wh)))
            moment += interval
        counters.today_wh, counters.month_wh = today_wh, month_wh
        counters.outage_until = outage_until
        return found

    def _day(self, day: date) -> _Day:
        """The day's UTC bounds, its DST change (from when, by how much) and its load plan."""
        begins = datetime.combine(day, time(0), tzinfo=self._zone).astimezone(UTC)
        ends = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._zone)
        start_offset = begins.astimezone(self._zone).utcoffset()
        shift_from, shift = ends.timestamp(), 0.0
        for hour in range(1, 26):  # DST changes happen on an hour boundary in UTC
            moment = begins + timedelta(hours=hour)
            offset = moment.astimezone(self._zone).utcoffset()
            if offset != start_offset and offset is not None and start_offset is not None:
                shift_from, shift = moment.timestamp(), (offset - start_offset).total_seconds()
                break
        steps = sorted(self._plan(day, self._rng), key=lambda step: step.second)
        return _Day(
            begins=begins.timestamp(),
            ends=ends.timestamp(),
            shift_from=shift_from,
            shift=shift,
            seconds=[step.second for step in steps],
            watts=[step.watts for step in steps],
            noise=[step.noise for step in steps],
        )


@dataclass(slots=True)
class _Counters:
    """What a plug carries from one day to the next: its counters, and an outage under way."""

    today_wh: float = 0.0
    month_wh: float = 0.0
    outage_until: float = 0.0


@dataclass(frozen=True, slots=True)
class _Day:
    begins: float
    ends: float
    shift_from: float
    shift: float
    seconds: list[int]
    watts: list[float]
    noise: list[float]
