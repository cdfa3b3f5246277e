"""The summary and cost reports: sums over plugs (never their mean), the month projected."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.services.energy import EnergyService, Period, TariffDraft
from tests.energy.plugs import add_plug, berlin, steady_hours

PRICE = 300_000  # 0.30 per kWh
DAILY_KWH = {"nas": 1, "monitor": 2, "fridge": 3}


@pytest.fixture
async def three_plugs(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> dict[str, int]:
    """Three plugs drawing 1, 2 and 3 kWh a day since 1 December; now is 14 January, 12:00."""
    await energy.tariffs.create(TariffDraft("flat", PRICE, valid_from=date(2025, 1, 1)))
    plugs = {}
    for name, kwh in DAILY_KWH.items():
        plugs[name] = await add_plug(sessions, name)
        await steady_hours(
            energy, sessions, plugs[name], kwh * 1000 / 24, berlin(2025, 12, 1), clock.now()
        )
    await energy.roll_up()
    return plugs


async def test_the_summary_adds_the_plugs_up(
    energy: EnergyService, three_plugs: dict[str, int]
) -> None:
    summary = await energy.summary.summary(days=30)

    daily = {
        name: summary.by_device[plug].avg_daily_energy_mwh for name, plug in three_plugs.items()
    }
    assert daily == pytest.approx(
        {name: kwh * 1_000_000 for name, kwh in DAILY_KWH.items()}, abs=24
    )
    total = summary.total
    assert total.avg_daily_energy_mwh == pytest.approx(6_000_000, abs=72)  # 1 + 2 + 3, not 2
    assert total.avg_power_mw == pytest.approx(250_000, abs=3)
    assert total.window.energy_mwh == pytest.approx(30 * 6_000_000, abs=30 * 72)
    assert total.window.cost_micros == pytest.approx(30 * 6 * PRICE, abs=30 * 72)
    assert total.today.energy_mwh == pytest.approx(3_000_000, abs=36)  # 12 closed hours
    assert total.month.energy_mwh == pytest.approx(13.5 * 6_000_000, abs=2000)
    assert total.projected_month.energy_mwh == pytest.approx(31 * 6_000_000, abs=5000)
    assert total.projected_month.cost_micros == pytest.approx(31 * 6 * PRICE, abs=5000)
    assert total.peak_power_mw == sum(
        summary.by_device[plug].peak_power_mw or 0 for plug in three_plugs.values()
    )
    for field in ("energy_mwh", "cost_micros"):
        parts = [getattr(summary.by_device[p].projected_month, field) for p in three_plugs.values()]
        assert getattr(total.projected_month, field) == sum(parts)


async def test_a_plug_without_data_projects_nothing(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    plug = await add_plug(sessions)

    summary = await energy.summary.summary()

    assert summary.by_device[plug].projected_month.energy_mwh == 0
    assert summary.total.peak_power_mw is None


@pytest.mark.parametrize(
    ("period", "first", "steps", "days"),
    [
        (Period.DAY, date(2026, 1, 14), 12, 0.5),  # 12 closed hours so far
        (Period.WEEK, date(2026, 1, 12), 3, 2.5),  # Monday to now
        (Period.MONTH, date(2026, 1, 1), 14, 13.5),
        (Period.YEAR, date(2026, 1, 1), 1, 13.5),
    ],
)
async def test_costs_per_period_per_plug_and_in_total(
    energy: EnergyService,
    three_plugs: dict[str, int],
    period: Period,
    first: date,
    steps: int,
    days: float,
) -> None:
    report = await energy.costs.report(period)

    assert report.first_day == first
    assert report.currency == "EUR"
    assert len(report.breakdown) == steps
    for name, plug in three_plugs.items():
        line = report.by_device[plug]
        assert line.energy_mwh == pytest.approx(days * DAILY_KWH[name] * 1_000_000, abs=500)
        # Each hour's cost is rounded to a micro: at most half a micro per hour apart.
        exact = line.energy_mwh * PRICE / 1_000_000
        assert line.cost_micros == pytest.approx(exact, abs=days * 24 / 2 + 1)
    assert report.total.energy_mwh == sum(line.energy_mwh for line in report.by_device.values())
    assert report.total.cost_micros == sum(step.total.cost_micros for step in report.breakdown)


async def test_last_years_costs_by_month(
    energy: EnergyService, three_plugs: dict[str, int]
) -> None:
    report = await energy.costs.report(Period.YEAR, date(2025, 6, 1))

    assert [step.label for step in report.breakdown] == ["2025-12"]
    assert report.total.energy_mwh == pytest.approx(31 * 6_000_000, abs=31 * 72)
    assert report.breakdown[0].start == berlin(2025, 12, 1)
    assert report.breakdown[0].start + timedelta(days=31) == berlin(2026, 1, 1)
