"""The demo household: what each plug's load draws over a local day, and what power costs.

A ``DayPlan`` turns a date into steps of power (with noise); ``PlugSimulator`` (``plug.py``) turns
the steps into readings. The NAS and the monitor plug have their own plans, generic plugs take
``GENERIC_LOADS`` in turn. ``demo_tariffs`` gives the filled history its costs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Final

from balupi.db.models import DeviceRole
from balupi.services.energy.tariffs import TariffDraft
from balupi.types import Watts


@dataclass(frozen=True, slots=True)
class Step:
    """From ``second`` of the local day on, the load draws ``watts`` (give or take ``noise``)."""

    second: int
    watts: Watts
    noise: Watts = 0.0


DayPlan = Callable[[date, random.Random], list[Step]]


def _at(hours: float, watts: Watts, noise: Watts = 0.0) -> Step:
    return Step(round(hours * 3600), watts, noise)


def nas_day(day: date, rng: random.Random) -> list[Step]:
    """A NAS that sleeps at 2 W, wakes most evenings (and weekend mornings) to ~50 W, works in
    bursts at ~85 W, and runs a backup on Sunday nights."""
    steps = [_at(0, 1.8, 0.05)]
    if day.weekday() == 6:
        steps += [_at(3, 70, 4), _at(3.5 + rng.random() / 2, 1.8, 0.05)]
    if day.weekday() >= 5 and rng.random() < 0.6:
        steps += _awake(rng, 10 + rng.random(), 13 + rng.random())
    if rng.random() < 0.85:
        steps += _awake(rng, 18 + rng.random() * 1.5, 22.5 + rng.random() * 1.4)
    return steps


def _awake(rng: random.Random, wake: float, sleep: float) -> list[Step]:
    steps = [_at(wake, 95, 3), _at(wake + 0.04, 52, 2)]
    moment = wake + 0.1
    while True:
        moment += rng.uniform(0.2, 1.0)
        burst = rng.uniform(0.08, 0.4)
        if moment + burst >= sleep:
            break
        steps += [_at(moment, 85, 6), _at(moment + burst, 52, 2)]
        moment += burst
    return [*steps, _at(sleep, 1.8, 0.05)]


def monitor_day(day: date, rng: random.Random) -> list[Step]:
    """A monitor: working hours on weekdays, sometimes an evening, 0.4 W in standby."""
    steps = [_at(0, 0.4, 0.02)]
    if day.weekday() < 5:
        start = 8.25 + rng.random() / 2
        lunch = 12 + rng.random() / 2
        steps += [
            _at(start, 24, 0.8),
            _at(lunch, 0.4, 0.02),
            _at(lunch + 0.75, 24, 0.8),
            _at(17.5 + rng.random(), 0.4, 0.02),
        ]
    if rng.random() < 0.3:
        steps += [_at(20, 24, 0.8), _at(21.5 + rng.random(), 0.4, 0.02)]
    return steps


def fridge_day(day: date, rng: random.Random) -> list[Step]:
    """A fridge's compressor: about 15 minutes at 90 W every 45 minutes, all day."""
    steps = [_at(0, 1.5, 0.1)]
    moment = rng.random() * 0.75
    while moment < 23.5:
        on = rng.uniform(0.2, 0.3)
        steps += [_at(moment, 90, 3), _at(moment + on, 1.5, 0.1)]
        moment += on + rng.uniform(0.45, 0.55)
    return steps


def router_day(day: date, rng: random.Random) -> list[Step]:
    """A router: 7.5 W, day and night."""
    return [_at(0, 7.5, 0.3)]


def desk_day(day: date, rng: random.Random) -> list[Step]:
    """A desktop computer on weekdays' working hours, 1 W off."""
    steps = [_at(0, 1.0, 0.05)]
    if day.weekday() < 5:
        steps += [_at(8.5 + rng.random(), 65, 15), _at(17 + rng.random(), 1.0, 0.05)]
    return steps


def tv_day(day: date, rng: random.Random) -> list[Step]:
    """A television most evenings."""
    steps = [_at(0, 0.5, 0.02)]
    if rng.random() < 0.8:
        steps += [_at(19.5 + rng.random(), 80, 4), _at(22 + rng.random(), 0.5, 0.02)]
    return steps


# Generic plugs take these in turn; the NAS and the monitor plug have their own.
GENERIC_LOADS: Final[tuple[DayPlan, ...]] = (fridge_day, router_day, desk_day, tv_day)
ROLE_LOADS: Final[dict[DeviceRole, DayPlan]] = {
    DeviceRole.NAS: nas_day,
    DeviceRole.MONITOR: monitor_day,
}


def demo_tariffs(first_day: date, today: date) -> list[TariffDraft]:
    """A plausible German household tariff with a night rate and, a third of the span ago, a
    price change (left out when the span is too short for one)."""
    drafts = [
        TariffDraft("Arbeitspreis", 341_200, valid_from=first_day),
        TariffDraft(
            "Nachtstrom", 265_000, valid_from=first_day, starts_at=time(22), ends_at=time(6)
        ),
    ]
    change = today - timedelta(days=(today - first_day).days // 3)
    if first_day < change:
        drafts.append(TariffDraft("Arbeitspreis neu", 318_900, valid_from=change))
    return drafts
