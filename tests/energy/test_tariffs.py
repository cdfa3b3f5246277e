"""Tariffs: prices by local date and wall time, a past that keeps its prices, no overlaps."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.db.models import EnergyDaily, EnergyHourly
from balupi.services.energy import (
    EnergyService,
    TariffConflict,
    TariffDraft,
    TariffInvalid,
    TariffNotFound,
)
from balupi.services.energy.tariffs import price_micros
from tests.energy.plugs import add_plug, berlin, constant, sample, store

DAY_PRICE = 400_000  # 0.40 per kWh
NIGHT_PRICE = 200_000


async def costs_by_hour(sessions: async_sessionmaker[AsyncSession]) -> dict[datetime, int | None]:
    async with sessions() as session:
        rows = await session.execute(select(EnergyHourly.hour_start, EnergyHourly.cost_micros))
        return dict(rows.all())


async def costs_by_day(sessions: async_sessionmaker[AsyncSession]) -> dict[date, int | None]:
    async with sessions() as session:
        return dict((await session.execute(select(EnergyDaily.day, EnergyDaily.cost_micros))).all())


async def kilowatt_hours(
    energy: EnergyService,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    start: datetime,
    end: datetime,
) -> None:
    """A 1 kW load from ``start`` to ``end``, rolled up: every whole hour is exactly 1 kWh."""
    plug = await add_plug(sessions)
    await store(sessions, plug, sample(constant(1000), start, end + timedelta(minutes=1)))
    clock.set(end + timedelta(minutes=10))
    await energy.roll_up()


@pytest.mark.parametrize("month", [1, 7], ids=["winter-CET", "summer-CEST"])
async def test_a_night_rate_starts_and_ends_at_local_wall_time(
    energy: EnergyService,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    month: int,
) -> None:
    clock.set(berlin(2026, month, 1))
    await energy.tariffs.create(TariffDraft("day", DAY_PRICE, valid_from=date(2026, 1, 1)))
    await energy.tariffs.create(
        TariffDraft(
            "night", NIGHT_PRICE, valid_from=date(2026, 1, 1), starts_at=time(22), ends_at=time(6)
        )
    )
    await kilowatt_hours(
        energy, sessions, clock, berlin(2026, month, 14, 20), berlin(2026, month, 15, 8)
    )

    costs = await costs_by_hour(sessions)

    expected = {21: DAY_PRICE, 22: NIGHT_PRICE, 23: NIGHT_PRICE, 5: NIGHT_PRICE, 6: DAY_PRICE}
    for hour, price in expected.items():
        day = 14 if hour >= 12 else 15
        assert costs[berlin(2026, month, day, hour)] == price, f"{hour}:00 local"


async def test_an_hour_cut_by_a_window_edge_is_priced_by_its_minutes(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    await energy.tariffs.create(TariffDraft("day", DAY_PRICE, valid_from=date(2026, 1, 1)))
    await energy.tariffs.create(
        TariffDraft(
            "go",
            NIGHT_PRICE,
            valid_from=date(2026, 1, 1),
            starts_at=time(23, 30),
            ends_at=time(5, 30),
        )
    )
    await kilowatt_hours(energy, sessions, clock, berlin(2026, 1, 14, 22), berlin(2026, 1, 15, 7))

    costs = await costs_by_hour(sessions)

    assert costs[berlin(2026, 1, 14, 22)] == DAY_PRICE
    assert costs[berlin(2026, 1, 14, 23)] == (DAY_PRICE + NIGHT_PRICE) // 2
    assert costs[berlin(2026, 1, 15, 0)] == NIGHT_PRICE
    assert costs[berlin(2026, 1, 15, 5)] == (DAY_PRICE + NIGHT_PRICE) // 2
    assert costs[berlin(2026, 1, 15, 6)] == DAY_PRICE


async def test_a_new_price_never_rewrites_the_past(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    old = await energy.tariffs.create(TariffDraft("2025", 300_000, valid_from=date(2025, 1, 1)))
    await kilowatt_hours(energy, sessions, clock, berlin(2026, 1, 12), berlin(2026, 1, 14, 12))
    hours_before, days_before = await costs_by_hour(sessions), await costs_by_day(sessions)
    assert set(days_before.values()) == {24 * 300_000}

    change = await energy.tariffs.create(TariffDraft("2026", 500_000, valid_from=date(2026, 1, 14)))

    assert [t.id for t in change.superseded] == [old.tariff.id]
    assert change.superseded[0].valid_until == date(2026, 1, 14)
    hours_after = await costs_by_hour(sessions)
    today = berlin(2026, 1, 14)
    for hour, cost in hours_after.items():
        assert cost == (hours_before[hour] if hour < today else 500_000)
    assert await costs_by_day(sessions) == days_before  # the 12th and 13th as they were


async def test_deleting_a_tariff_unprices_its_hours_and_a_correction_reprices_them(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    created = await energy.tariffs.create(TariffDraft("flat", 300_000, valid_from=date(2026, 1, 1)))
    await kilowatt_hours(energy, sessions, clock, berlin(2026, 1, 12), berlin(2026, 1, 13, 12))

    await energy.tariffs.delete(created.tariff.id)
    assert set((await costs_by_hour(sessions)).values()) == {None}
    assert set((await costs_by_day(sessions)).values()) == {None}

    correction = await energy.tariffs.create(
        TariffDraft("flat", 310_000, valid_from=date(2026, 1, 13))
    )
    costs = await costs_by_hour(sessions)
    assert {cost for hour, cost in costs.items() if hour >= berlin(2026, 1, 13)} == {310_000}
    assert {cost for hour, cost in costs.items() if hour < berlin(2026, 1, 13)} == {None}

    await energy.tariffs.replace(
        correction.tariff.id, TariffDraft("flat", 320_000, valid_from=date(2026, 1, 12))
    )
    assert set((await costs_by_hour(sessions)).values()) == {320_000}
    assert (await costs_by_day(sessions))[date(2026, 1, 12)] == 24 * 320_000


async def test_overlapping_tariffs_are_refused(energy: EnergyService) -> None:
    await energy.tariffs.create(
        TariffDraft("2026", 300_000, valid_from=date(2026, 1, 1), valid_until=date(2027, 1, 1))
    )
    await energy.tariffs.create(
        TariffDraft(
            "night", 200_000, valid_from=date(2026, 1, 1), starts_at=time(22), ends_at=time(6)
        )
    )
    with pytest.raises(TariffConflict, match="overlaps"):
        await energy.tariffs.create(TariffDraft("promo", 100_000, valid_from=date(2026, 6, 1)))
    with pytest.raises(TariffConflict, match="overlaps"):
        await energy.tariffs.create(
            TariffDraft(
                "late", 150_000, valid_from=date(2026, 3, 1), starts_at=time(5), ends_at=time(7)
            )
        )
    with pytest.raises(TariffConflict, match="currency"):
        await energy.tariffs.create(
            TariffDraft("2027", 300_000, valid_from=date(2027, 1, 1), currency="CHF")
        )
    # A window that does not touch the night one, and a price after the bounded year, are fine.
    await energy.tariffs.create(
        TariffDraft(
            "noon", 250_000, valid_from=date(2026, 1, 1), starts_at=time(12), ends_at=time(14)
        )
    )
    await energy.tariffs.create(TariffDraft("2027", 310_000, valid_from=date(2027, 1, 1)))
    assert len(await energy.tariffs.all()) == 4


async def test_a_window_with_a_new_price_ends_the_same_window(energy: EnergyService) -> None:
    night = TariffDraft(
        "night", 200_000, valid_from=date(2026, 1, 1), starts_at=time(22), ends_at=time(6)
    )
    first = await energy.tariffs.create(night)

    change = await energy.tariffs.create(
        TariffDraft(
            "night", 210_000, valid_from=date(2026, 7, 1), starts_at=time(22), ends_at=time(6)
        )
    )

    assert [(t.id, t.valid_until) for t in change.superseded] == [
        (first.tariff.id, date(2026, 7, 1))
    ]


@pytest.mark.parametrize(
    ("draft", "message"),
    [
        (TariffDraft(" ", 1, valid_from=date(2026, 1, 1)), "name"),
        (TariffDraft("x", 1, valid_from=date(2026, 2, 1), valid_until=date(2026, 2, 1)), "after"),
        (TariffDraft("x", 1, valid_from=date(2026, 1, 1), starts_at=time(22)), "both"),
        (
            TariffDraft("x", 1, valid_from=date(2026, 1, 1), starts_at=time(6), ends_at=time(6)),
            "same time",
        ),
        (
            TariffDraft(
                "x", 1, valid_from=date(2026, 1, 1), starts_at=time(6, 0, 30), ends_at=time(7)
            ),
            "whole minutes",
        ),
        (TariffDraft("x", 1, valid_from=date(2026, 1, 1), currency="euro"), "currency"),
    ],
)
async def test_meaningless_tariffs_are_refused(
    energy: EnergyService, draft: TariffDraft, message: str
) -> None:
    with pytest.raises(TariffInvalid, match=message):
        await energy.tariffs.create(draft)


def test_prices_are_kept_exactly_in_micros() -> None:
    assert price_micros(Decimal("0.3412")) == 341_200
    with pytest.raises(TariffInvalid, match="decimal places"):
        price_micros(Decimal("0.1234567"))
    with pytest.raises(TariffInvalid, match="between"):
        price_micros(Decimal("-0.01"))


async def test_unknown_tariffs_are_not_found(energy: EnergyService) -> None:
    with pytest.raises(TariffNotFound):
        await energy.tariffs.delete(42)
