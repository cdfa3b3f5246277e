"""The SMART methods: shapes, units and error codes, and how they compare with real plugs."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from balupi.clock import ManualClock
from balupi.sim.plug.counters import EnergyLedger
from balupi.sim.plug.device import PlugDevice
from balupi.sim.plug.power import ConstantPower
from balupi.sim.plug.smart import PlugIdentity, SmartApi, normalize_mac

# Real plugs' answers, shared beside the repository (reference only, never copied in).
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "tapo"
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 7, 1, 12, 0, tzinfo=BERLIN))


def make_api(clock: ManualClock, watts: float = 8.962, model: Any = "P110") -> SmartApi:
    device = PlugDevice(ConstantPower(watts), ledger=EnergyLedger(BERLIN), clock=clock)
    identity = PlugIdentity(model=model, mac="a8:42:a1:00:00:01", alias="Büro", ip="127.0.0.1")
    return SmartApi(device, identity)


async def call(api: SmartApi, method: str, params: dict[str, Any] | None = None) -> Any:
    answer = await api.handle({"method": method, "params": params})
    assert answer["error_code"] == 0, answer
    return answer.get("result")


async def test_power_units_differ_per_method_as_on_real_plugs(clock: ManualClock) -> None:
    api = make_api(clock)
    assert (await call(api, "get_energy_usage"))["current_power"] == 8962  # mW
    assert await call(api, "get_current_power") == {"current_power": 9}  # W, rounded
    emeter = await call(api, "get_emeter_data")
    assert emeter == {"current_ma": 39, "energy_wh": 0, "power_mw": 8962, "voltage_mv": 230000}


async def test_device_info_speaks_base64_and_local_time(clock: ManualClock) -> None:
    info = await call(make_api(clock), "get_device_info")
    assert base64.b64decode(info["nickname"]).decode() == "Büro"
    assert base64.b64decode(info["ssid"]).decode() == "balupi-sim"
    assert info["mac"] == "A8-42-A1-00-00-01"
    assert (info["region"], info["time_diff"]) == ("Europe/Berlin", 60)  # standard offset in DST
    assert info["type"] == "SMART.TAPOPLUG"
    assert len(info["device_id"]) == 40
    time_info = await call(make_api(clock), "get_device_time")
    assert time_info["timestamp"] == int(clock.now().timestamp())


async def test_device_usage_windows_and_saved_power(clock: ManualClock) -> None:
    api = make_api(clock, watts=30)
    clock.advance(2 * 3600)
    usage = await call(api, "get_device_usage")
    assert usage["time_usage"] == {"today": 120, "past7": 120, "past30": 120}
    assert usage["power_usage"] == {"today": 60, "past7": 60, "past30": 60}
    assert usage["saved_power"] == {"today": 60, "past7": 60, "past30": 60}


async def test_set_device_info_switches_and_renames(clock: ManualClock) -> None:
    api = make_api(clock)
    assert await api.handle({"method": "set_device_info", "params": {"device_on": False}}) == {
        "error_code": 0
    }
    assert not api.device.is_on
    nickname = base64.b64encode(b"Monitor").decode()
    await call(api, "set_device_info", {"nickname": nickname})
    assert api.identity.alias == "Monitor"


@pytest.mark.parametrize("params", [{"device_on": "yes"}, {}, {"nickname": "***"}, {"nickname": 5}])
async def test_bad_parameters_are_params_error(clock: ManualClock, params: Any) -> None:
    answer = await make_api(clock).handle({"method": "set_device_info", "params": params})
    assert answer == {"error_code": -1008}


async def test_unknown_methods_and_bodies(clock: ManualClock) -> None:
    api = make_api(clock)
    assert await api.handle({"method": "get_led_info"}) == {"error_code": -1002}
    assert json.loads(await api.handle_bytes(b"not json")) == {"error_code": -1003}
    assert json.loads(await api.handle_bytes(b"[1]")) == {"error_code": -1003}


async def test_multiple_request_stops_at_the_first_failure(clock: ManualClock) -> None:
    api = make_api(clock)
    answer = await api.handle(
        {
            "method": "multipleRequest",
            "params": {
                "requests": [
                    {"method": "get_current_power"},
                    {"method": "get_schedule_rules"},
                    {"method": "get_device_info"},
                ]
            },
        }
    )
    responses = answer["result"]["responses"]
    assert [(r["method"], r["error_code"]) for r in responses] == [
        ("get_current_power", 0),
        ("get_schedule_rules", -1002),
    ]


def test_mac_addresses_are_checked() -> None:
    assert normalize_mac("50:c7:bf:00:00:01") == "50-C7-BF-00-00-01"
    with pytest.raises(ValueError, match="six hex pairs"):
        normalize_mac("50:c7:bf:00:00")
    with pytest.raises(ValueError, match="six hex pairs"):
        normalize_mac("50:c7:bf:00:00:zz")


# -- against captures from real plugs ---------------------------------------------------------


def _captures() -> dict[str, Any]:
    """The captures by file name, read once at collection (none when ../shared is absent)."""
    if not FIXTURES.is_dir():
        return {}
    return {path.stem: json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))}


CAPTURES = _captures()
needs_captures = pytest.mark.skipif(not CAPTURES, reason="no reference captures in ../shared")


@needs_captures
@pytest.mark.parametrize("capture", CAPTURES)
@pytest.mark.parametrize(
    "method",
    [
        "get_device_info",
        "get_energy_usage",
        "get_current_power",
        "get_device_time",
        "get_device_usage",
    ],
)
async def test_answers_have_every_key_real_plugs_send(
    clock: ManualClock, capture: str, method: str
) -> None:
    real = CAPTURES[capture]
    ours = await call(make_api(clock, model=real["get_device_info"]["model"]), method)
    assert set(real[method]) <= set(ours)
    for key, value in real[method].items():
        assert type(ours[key]) is type(value), key  # the same JSON types, so the same parsing
        if isinstance(value, dict):
            assert set(value) <= set(ours[key]), key


@needs_captures
@pytest.mark.parametrize("capture", CAPTURES)
async def test_components_we_advertise_are_real_plug_components(
    clock: ManualClock, capture: str
) -> None:
    real = CAPTURES[capture]["component_nego"]["component_list"]
    ours = (await call(make_api(clock), "component_nego"))["component_list"]
    assert [c for c in ours if c not in real] == []
