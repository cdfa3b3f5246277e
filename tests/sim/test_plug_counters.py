"""The per-day ledger behind today's, this month's and the rolling counters."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from balupi.sim.plug.counters import EnergyLedger, Usage
from balupi.sim.plug.power import ConstantPower

BERLIN = ZoneInfo("Europe/Berlin")
HUNDRED_WATTS = ConstantPower(100).energy_wh


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def test_an_interval_across_midnight_is_split_between_the_days() -> None:
    ledger = EnergyLedger(BERLIN)
    ledger.record(local(2026, 4, 30, 22, 0), local(2026, 5, 1, 1, 0), HUNDRED_WATTS)
    now = local(2026, 5, 1, 1, 0)
    assert ledger.today(now) == Usage(energy_wh=100, runtime_min=60)
    assert ledger.this_month(now) == Usage(energy_wh=100, runtime_min=60)  # April is not May
    assert ledger.past_days(now, 7) == Usage(energy_wh=300, runtime_min=180)
    assert ledger.today(local(2026, 4, 30, 23, 0)) == Usage(energy_wh=200, runtime_min=120)


def test_switched_off_time_counts_nothing() -> None:
    ledger = EnergyLedger(BERLIN)
    ledger.record(local(2026, 5, 1, 8, 0), local(2026, 5, 1, 9, 0), None)
    assert ledger.today(local(2026, 5, 1, 9, 0)) == Usage(0, 0)


def test_dst_days_have_23_and_25_hours() -> None:
    for day, hours in [(local(2026, 3, 29), 23), (local(2026, 10, 25), 25)]:
        ledger = EnergyLedger(BERLIN)
        ledger.record(day - timedelta(hours=1), day + timedelta(days=2), HUNDRED_WATTS)
        late = day.replace(hour=23, minute=59)
        assert ledger.today(late) == Usage(energy_wh=hours * 100, runtime_min=hours * 60)


def test_month_sums_only_its_own_days_and_old_days_are_dropped() -> None:
    ledger = EnergyLedger(BERLIN)
    start = local(2026, 1, 1)
    for day in range(60):  # one hour a day, two months long
        begin = start + timedelta(days=day, hours=12)
        ledger.record(begin, begin + timedelta(hours=1), HUNDRED_WATTS)
    now = local(2026, 3, 1, 13, 0)
    assert ledger.this_month(now) == Usage(energy_wh=100, runtime_min=60)
    assert ledger.past_days(now, 30).energy_wh == 30 * 100
    assert len(ledger) <= 41
