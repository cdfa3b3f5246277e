"""Tariffs: dated prices per kWh, optionally only within a daily time window, in local time.

**Which price applies at an instant.** Take the instant's local date and wall time in the
configured zone. Among the tariffs valid on that date (``valid_from <= date < valid_until``), a
windowed tariff whose window holds the wall time wins (a 22:00-06:00 night rate); otherwise the
all-day tariff applies; otherwise nothing does, and the energy stays unpriced (``cost = null``),
never priced at a guess. A window that wraps midnight belongs, after midnight, to the new date's
tariffs: a night rate valid from 1 February first applies at 00:00 on 1 February.

**Dated, so the past keeps its prices**: how tariffs change, and what a change re-prices, is
``tariff_book.py``'s.

**Precision within an hour.** Energy is kept per hour, so the price of an hour is its mean price
over its 60 minutes (windows are whole minutes): exact when every window edge falls on the hour
(22:00-06:00, in any zone with whole-hour offsets). An hour cut by an edge (23:30) is priced by
the share of its minutes on each side, which assumes an even draw within that hour; the error is
at most the price difference times the energy that drew unevenly within the hour, and it cancels
on average.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from balupi.db.models import EnergyPrice
from balupi.services.energy.calendar import HOUR
from balupi.services.energy.errors import TariffInvalid

MICROS: Final = 1_000_000
# A generous ceiling (100 per kWh) that also keeps energy x price inside SQLite's 64-bit integers.
MAX_PRICE_MICROS: Final = 100 * MICROS
MINUTES_PER_DAY: Final = 24 * 60
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _minute(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def price_micros(price: Decimal) -> int:
    """A price per kWh in micros, exactly; ``TariffInvalid`` beyond six decimals or range."""
    micros = price * MICROS
    if micros != micros.to_integral_value():
        raise TariffInvalid("The price has more than 6 decimal places.")
    if not 0 <= micros <= MAX_PRICE_MICROS:
        raise TariffInvalid(
            f"The price per kWh must lie between 0 and {MAX_PRICE_MICROS // MICROS}."
        )
    return int(micros)


@dataclass(frozen=True, slots=True)
class TariffDraft:
    """A tariff as a caller describes it; ``validated()`` checks it means something."""

    name: str
    price_per_kwh_micros: int
    valid_from: date
    valid_until: date | None = None
    starts_at: time | None = None
    ends_at: time | None = None
    currency: str = "EUR"

    def validated(self) -> TariffDraft:
        name = self.name.strip()
        if not name or len(name) > 255:
            raise TariffInvalid("Give the tariff a name of 1 to 255 characters.")
        if not 0 <= self.price_per_kwh_micros <= MAX_PRICE_MICROS:
            raise TariffInvalid(
                f"The price per kWh must lie between 0 and {MAX_PRICE_MICROS // MICROS}."
            )
        currency = self.currency.upper()
        if not _CURRENCY.match(currency):
            raise TariffInvalid("The currency must be a three-letter code such as EUR.")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise TariffInvalid("The end date must come after the start date.")
        if (self.starts_at is None) != (self.ends_at is None):
            raise TariffInvalid("Give both a start and an end time for the hours, or neither.")
        if self.starts_at is not None and self.ends_at is not None:
            for edge in (self.starts_at, self.ends_at):
                if edge.second or edge.microsecond or edge.tzinfo is not None:
                    raise TariffInvalid("Give the hours in whole minutes.")
            if self.starts_at == self.ends_at:
                raise TariffInvalid("The hours must not start and end at the same time.")
        return replace(self, name=name, currency=currency)

    def stored_as(self, tariff_id: int) -> Tariff:
        return Tariff(
            id=tariff_id,
            name=self.name,
            price_per_kwh_micros=self.price_per_kwh_micros,
            currency=self.currency,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
        )


@dataclass(frozen=True, slots=True)
class Tariff(TariffDraft):
    """A stored tariff."""

    id: int = 0

    @classmethod
    def from_row(cls, row: EnergyPrice) -> Tariff:
        draft = TariffDraft(
            name=row.name,
            price_per_kwh_micros=row.price_per_kwh_micros,
            currency=row.currency,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
        )
        return draft.stored_as(row.id)

    @property
    def windowed(self) -> bool:
        return self.starts_at is not None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)

    def window_minutes(self) -> list[tuple[int, int]]:
        """The window as half-open minute ranges of a day (two when it wraps midnight)."""
        if self.starts_at is None or self.ends_at is None:
            return [(0, MINUTES_PER_DAY)]
        start, end = _minute(self.starts_at), _minute(self.ends_at)
        if start < end:
            return [(start, end)]
        return [(start, MINUTES_PER_DAY), (0, end)]

    def in_window(self, minute: int) -> bool:
        return any(start <= minute < end for start, end in self.window_minutes())


class TariffSchedule:
    """The tariffs in force, answering "what does energy cost at this instant / in this hour"."""

    def __init__(self, tariffs: Sequence[Tariff], zone: ZoneInfo) -> None:
        self.tariffs = sorted(tariffs, key=lambda t: (t.valid_from, t.id))
        self.zone = zone
        self.currency = self.tariffs[0].currency if self.tariffs else None
        # Wall-clock minutes where some window starts or ends, plus midnight (the date changes).
        self._edges = sorted(
            {0}
            | {
                edge
                for tariff in self.tariffs
                for span in tariff.window_minutes()
                for edge in span
                if edge < MINUTES_PER_DAY
            }
        )
        self._weights: dict[datetime, int | None] = {}

    def tariff_at(self, moment: datetime) -> Tariff | None:
        local = moment.astimezone(self.zone)
        return self._tariff_on(local.date(), local.hour * 60 + local.minute)

    def _tariff_on(self, day: date, minute: int) -> Tariff | None:
        all_day: Tariff | None = None
        for tariff in self.tariffs:
            if not tariff.valid_on(day):
                continue
            if tariff.windowed:
                if tariff.in_window(minute):
                    return tariff
            elif all_day is None:
                all_day = tariff
        return all_day

    def hour_weight(self, hour_start: datetime) -> int | None:
        """The hour's price integral in micros per kWh x seconds; ``None`` if nothing applies.

        ``cost_micros = energy_mwh x weight / 3.6e9`` (``costs.py``). A minute without a price
        adds nothing, so an hour priced for only part of its minutes costs only that part.
        """
        if hour_start not in self._weights:
            self._weights[hour_start] = self._compute_weight(hour_start)
        return self._weights[hour_start]

    def _compute_weight(self, hour_start: datetime) -> int | None:
        local = hour_start.astimezone(self.zone)
        local_end = (hour_start + HOUR).astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        same_offset = local.utcoffset() == local_end.utcoffset()
        cut = any(
            minute < edge < minute + 60 or minute < edge + MINUTES_PER_DAY < minute + 60
            for edge in self._edges
        )
        if same_offset and not cut:  # one price for the whole hour
            tariff = self._tariff_on(local.date(), minute)
            return None if tariff is None else tariff.price_per_kwh_micros * 3600
        total, priced = 0, False
        for offset in range(60):
            tariff = self.tariff_at(hour_start + timedelta(minutes=offset, seconds=30))
            if tariff is not None:
                total += tariff.price_per_kwh_micros * 60
                priced = True
        return total if priced else None

    def weight_runs(
        self, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, datetime, int | None]]:
        """Consecutive hours of ``[start, end)`` with the same weight, as ``(from, to, weight)``."""
        run_start, run_weight = start, self.hour_weight(start) if start < end else None
        hour = start
        while hour < end:
            weight = self.hour_weight(hour)
            if weight != run_weight:
                yield run_start, hour, run_weight
                run_start, run_weight = hour, weight
            hour += HOUR
        if run_start < end:
            yield run_start, end, run_weight
