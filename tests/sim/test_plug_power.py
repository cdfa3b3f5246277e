"""Power sources: constant, daily profiles (linear and step) and the NAS emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from balupi.sim.plug.power import (
    ConstantPower,
    DailyProfile,
    NasPower,
    load_profile,
    parse_power_spec,
)

BERLIN = ZoneInfo("Europe/Berlin")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def test_constant_power_integrates_to_watts_times_hours() -> None:
    source = ConstantPower(60)
    start = local(2026, 5, 1, 8, 0)
    assert source.watts(start) == 60
    assert source.energy_wh(start, start + timedelta(hours=2.5)) == pytest.approx(150)


def test_linear_profile_interpolates_and_wraps_over_midnight() -> None:
    # 22:00 → 10 W, 06:00 → 50 W: the night ramps up across midnight.
    profile = DailyProfile([(22 * 60, 10), (6 * 60, 50)], tz=BERLIN)
    assert profile.watts(local(2026, 5, 1, 22, 0)) == pytest.approx(10)
    assert profile.watts(local(2026, 5, 2, 2, 0)) == pytest.approx(30)  # half way
    assert profile.watts(local(2026, 5, 2, 6, 0)) == pytest.approx(50)
    assert profile.watts(local(2026, 5, 2, 14, 0)) == pytest.approx(30)  # 06→22 ramps down


def test_step_profile_holds_each_value_until_the_next_point() -> None:
    profile = DailyProfile([(0, 5), (8 * 60, 40), (18 * 60, 80)], tz=BERLIN, interpolation="step")
    assert profile.watts(local(2026, 5, 1, 7, 59)) == 5
    assert profile.watts(local(2026, 5, 1, 8, 0)) == 40
    assert profile.watts(local(2026, 5, 1, 23, 59)) == 80


@pytest.mark.parametrize("interpolation", ["linear", "step"])
def test_profile_energy_is_exact_across_breakpoints_and_days(interpolation: str) -> None:
    profile = DailyProfile(
        [(0, 0), (12 * 60, 120)],
        tz=BERLIN,
        interpolation=interpolation,  # type: ignore[arg-type]
    )
    start = local(2026, 5, 1, 0, 0)
    # linear: a triangle 0→120→0 over the day = 1440 Wh; step: 0 W then 120 W for 12 h.
    assert profile.energy_wh(start, start + timedelta(days=1)) == pytest.approx(1440)
    assert profile.energy_wh(start, start + timedelta(days=3)) == pytest.approx(3 * 1440)


def test_profile_files_in_json_and_text(tmp_path: Path) -> None:
    as_json = tmp_path / "monitor.json"
    as_json.write_text(json.dumps({"interpolation": "step", "points": {"00:00": 0.5, "09:00": 28}}))
    as_text = tmp_path / "monitor.csv"
    as_text.write_text("# monitor\n00:00,0.5\n\n09:00 28  # work starts\n")
    noon = local(2026, 5, 1, 12, 0)
    assert load_profile(as_json, tz=BERLIN).watts(noon) == 28
    # 09:00 → 28 W falling linearly to 0.5 W at the next midnight (900 minutes later)
    assert load_profile(as_text, tz=BERLIN).watts(noon) == pytest.approx(28 - 27.5 * 180 / 900)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", "25:00,3\n", "not HH:MM"),
        ("bad.csv", "08:00\n", "expected 'HH:MM,watts'"),
        ("bad.csv", "08:00,-1\n", "not negative"),
        ("bad.csv", "08:00,1\n08:00,2\n", "same time twice"),
        ("bad.csv", "# nothing\n", "at least one point"),
        ("bad.json", "{", "not valid JSON"),
        ("bad.json", '{"points": []}', "expected"),
        ("bad.json", '{"interpolation": "cubic", "points": {"00:00": 1}}', "interpolation"),
        ("bad.json", '{"points": {"00:00": "many"}}', "not a number"),
    ],
)
def test_profile_errors_say_what_is_wrong(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_profile(path, tz=BERLIN)


def test_power_specs() -> None:
    assert isinstance(parse_power_spec("constant:12.5", tz=BERLIN), ConstantPower)
    assert isinstance(parse_power_spec("nas:http://127.0.0.1:9", tz=BERLIN), NasPower)
    for spec, message in [
        ("constant", "is not constant:W"),
        ("constant:lots", "not a number"),
        ("constant:-3", "not negative"),
        ("constant:nan", "finite"),
        ("solar:5", "unknown power source"),
        ("nas:127.0.0.1:8000", "must start with http"),
        ("profile:/nonexistent/day.csv", "cannot read power profile"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_power_spec(spec, tz=BERLIN)


async def test_nas_source_keeps_its_last_reading_when_the_nas_is_gone(
    unused_tcp_port: int,
) -> None:
    source = NasPower(f"http://127.0.0.1:{unused_tcp_port}", timeout_s=1)
    try:
        await source.refresh()
        await source.switched(False)  # logged, not raised
        assert source.watts(datetime.now(UTC)) == 0
    finally:
        await source.aclose()


def test_profile_energy_counts_elapsed_hours_on_dst_days() -> None:
    profile = DailyProfile([(0, 100), (12 * 60, 100)], tz=BERLIN)
    autumn = local(2026, 10, 25)
    assert profile.energy_wh(autumn, autumn + timedelta(days=1)) == pytest.approx(2500)
