"""The integration rule on its own: trapezoids, bucket edges, gaps and counter resets."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from balupi.services.energy.integration import Reading, integrate
from tests.energy.plugs import berlin, constant, exact_wh, sample, wavy

HOUR_S = 3600


def hours(readings: list[Reading], start_hour: float, count: int, max_gap: float = 90):
    return integrate(
        readings,
        width=HOUR_S,
        start=start_hour,
        end=start_hour + count * HOUR_S,
        max_gap=max_gap,
    )


def test_hourly_energy_matches_the_load_within_one_percent() -> None:
    start = berlin(2026, 1, 14, 8)
    readings = sample(
        wavy, start - timedelta(minutes=2), start + timedelta(hours=6, minutes=2), jitter=0.8
    )
    result = hours(readings, start.timestamp(), 6)
    assert len(result) == 6
    for hour in result:
        truth = exact_wh(wavy, hour.start, hour.start + timedelta(hours=1))
        assert hour.energy_mwh / 1000 == pytest.approx(truth, rel=0.01)
        assert hour.covered_seconds == HOUR_S
        assert 118 <= hour.sample_count <= 121


def test_buckets_add_up_to_the_whole_series() -> None:
    """Stretches crossing an hour's edge are cut there, not lost (the earlier BaluPi lost 8 %)."""
    start = berlin(2026, 1, 14, 10)  # 09:00 UTC: a multiple of three hours
    readings = sample(wavy, start, start + timedelta(hours=3), jitter=0.8, seed=3)
    whole = integrate(
        readings,
        width=3 * HOUR_S,
        start=start.timestamp(),
        end=start.timestamp() + 3 * HOUR_S,
        max_gap=90,
    )
    parts = hours(readings, start.timestamp(), 3)
    assert sum(p.energy_mwh for p in parts) == pytest.approx(whole[0].energy_mwh, abs=2)
    assert sum(p.covered_seconds for p in parts) == pytest.approx(whole[0].covered_seconds, abs=2)


def test_a_gap_is_not_bridged_and_shows_in_the_coverage() -> None:
    start = berlin(2026, 1, 14, 8)
    readings = [
        r
        for r in sample(
            constant(100), start - timedelta(minutes=1), start + timedelta(hours=1, minutes=1)
        )
        if not (start + timedelta(minutes=20)).timestamp()
        < r.at
        < (start + timedelta(minutes=30)).timestamp()
    ]
    (hour,) = hours(readings, start.timestamp(), 1)
    # Readings at 08:20:00 and 08:30:00, nothing between: ten minutes not measured.
    assert hour.covered_seconds == HOUR_S - 600
    assert hour.energy_mwh == round(100 * (HOUR_S - 600) / 3.6)
    assert hour.avg_power_mw == 100_000
    # The plug's counter kept counting through the gap: the cross-check sees the whole hour.
    assert hour.counter_wh == pytest.approx(100, abs=1)


def test_a_midnight_counter_reset_gives_no_negative_energy() -> None:
    start = berlin(2026, 1, 14, 23)
    readings = sample(constant(600), start, start + timedelta(hours=2))
    # Only the daily counter, as some firmware reports: it drops to 0 at local midnight.
    readings = [Reading(r.at, r.power_mw, r.today_wh, None) for r in readings]
    assert any(b.today_wh < a.today_wh for a, b in itertools.pairwise(readings))
    before, after = hours(readings, start.timestamp(), 2)
    assert before.counter_wh is not None
    assert after.counter_wh is not None
    assert before.counter_wh >= 0
    assert after.counter_wh >= 0
    # The reset forgets what the counter gained between the last reading and midnight (at most
    # one poll interval, 5 Wh here); the last interval of the second hour belongs to the next.
    assert 1200 - 12 <= before.counter_wh + after.counter_wh <= 1200
    assert after.energy_mwh > 0


def test_a_month_reset_and_a_glitch_count_nothing_negative() -> None:
    start = berlin(2026, 1, 31, 23)
    readings = sample(constant(300), start, start + timedelta(hours=2))
    assert readings[-1].month_wh is not None
    assert readings[-1].month_wh < 300
    glitch = len(readings) // 4
    at, power, today, _month = readings[glitch]
    readings[glitch] = Reading(at, power, today, 2_000_000)  # a corrupt counter value
    result = hours(readings, start.timestamp(), 2)
    assert all(h.counter_wh is not None and 0 <= h.counter_wh <= 310 for h in result)
    assert sum(h.counter_wh or 0 for h in result) >= 500


def test_buckets_must_be_aligned() -> None:
    with pytest.raises(ValueError, match="multiples"):
        integrate([], width=HOUR_S, start=10, end=HOUR_S, max_gap=90)
