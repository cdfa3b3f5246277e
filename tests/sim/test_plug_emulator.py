"""Unmodified python-kasa against the plug emulator over real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from kasa import Credentials, Device, DeviceConfig, Module
from kasa.deviceconfig import DeviceConnectionParameters, DeviceEncryptionType, DeviceFamily
from kasa.exceptions import AuthenticationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from balupi.clock import ManualClock
from balupi.server import running_server
from balupi.sim.plug import PlugConfig, PlugEmulator
from balupi.sim.plug.counters import Usage

USER = "owner@example.com"
PASSWORD = "correct horse"
BERLIN = ZoneInfo("Europe/Berlin")


def at_berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


async def connect(plug: PlugEmulator, username: str = USER, password: str = PASSWORD) -> Device:
    """What BaluPi's Tapo service does: KLAP v2 on the plug's port, no discovery."""
    config = DeviceConfig(
        host=plug.host,
        port_override=plug.port,
        credentials=Credentials(username, password),
        connection_type=DeviceConnectionParameters(
            DeviceFamily.SmartTapoPlug, DeviceEncryptionType.Klap, login_version=2
        ),
    )
    return await Device.connect(config=config)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at_berlin(2026, 3, 14, 10, 0))


@pytest.fixture
async def plug(clock: ManualClock) -> AsyncIterator[PlugEmulator]:
    config = PlugConfig(
        username=USER,
        password=PASSWORD,
        mac="aa:bb:cc:00:11:22",
        alias="NAS plug",
        power="constant:100",
        clock=clock,
    )
    async with PlugEmulator(config) as emulator:
        yield emulator


@pytest.fixture
async def device(plug: PlugEmulator) -> AsyncIterator[Device]:
    dev = await connect(plug)
    yield dev
    await dev.disconnect()


async def test_connect_reads_identity_state_and_live_power(
    plug: PlugEmulator, device: Device
) -> None:
    assert device.model == "P110"
    assert device.alias == "NAS plug"
    assert device.mac == "AA:BB:CC:00:11:22"
    assert device.is_on
    assert device.time == datetime(2026, 3, 14, 10, 0, tzinfo=BERLIN)
    energy = device.modules[Module.Energy]
    assert plug.power_w == 100.0
    assert energy.current_consumption == pytest.approx(100.0)
    assert energy.voltage == pytest.approx(230.0)
    assert energy.current == pytest.approx(100 / 230, abs=0.001)


async def test_counters_follow_the_integral_of_power(
    plug: PlugEmulator, device: Device, clock: ManualClock
) -> None:
    clock.advance(90 * 60)
    await device.update()
    energy = device.modules[Module.Energy]
    assert plug.today == Usage(energy_wh=150, runtime_min=90)
    assert energy.consumption_today == pytest.approx(0.150)
    assert energy.consumption_this_month == pytest.approx(0.150)
    assert energy.energy["today_runtime"] == 90
    assert energy.energy["local_time"] == "2026-03-14 11:30:00"
    assert energy.consumption_total is None  # SMART plugs have no lifetime counter


async def test_turn_off_and_on_switch_relay_power_and_counting(
    plug: PlugEmulator, device: Device, clock: ManualClock
) -> None:
    energy = device.modules[Module.Energy]

    await device.turn_off()
    assert not plug.is_on
    assert plug.power_w == 0
    clock.advance(3600)  # an hour switched off uses nothing
    await device.update()
    assert not device.is_on
    assert energy.current_consumption == 0
    assert energy.consumption_today == 0
    assert device.on_since is None

    await device.turn_on()
    clock.advance(1800)
    await device.update()
    assert device.is_on
    assert energy.current_consumption == pytest.approx(100.0)
    assert plug.today == Usage(energy_wh=50, runtime_min=30)
    assert energy.consumption_today == pytest.approx(0.050)
    assert device.on_since == datetime(2026, 3, 14, 11, 0, tzinfo=BERLIN)


async def test_wrong_password_fails_like_a_real_plug(plug: PlugEmulator) -> None:
    with pytest.raises(AuthenticationError, match="did not match our challenge"):
        await connect(plug, password="wrong")
    assert plug.sessions.handshakes == 0  # never got past handshake1


async def test_wrong_username_fails_too(plug: PlugEmulator) -> None:
    with pytest.raises(AuthenticationError):
        await connect(plug, username="someone@else.org")


async def test_factory_fresh_plug_accepts_any_account(clock: ManualClock) -> None:
    # Blank credentials are what an unbound plug has; python-kasa falls back to them.
    config = PlugConfig(username="", password="", power="constant:5", clock=clock)
    async with PlugEmulator(config) as fresh:
        dev = await connect(fresh, username="anyone@example.com", password="anything")
        try:
            assert dev.modules[Module.Energy].current_consumption == pytest.approx(5.0)
        finally:
            await dev.disconnect()


async def test_one_session_serves_many_updates(plug: PlugEmulator, device: Device) -> None:
    (session,) = plug.sessions.active()
    first_seq = session.last_seq
    for _ in range(4):
        await device.update()
    assert plug.sessions.handshakes == 1
    assert len(plug.sessions) == 1
    # Each later update is two multipleRequest batches (device + time + energy + cloud).
    assert session.last_seq - first_seq >= 8


async def test_expired_session_makes_python_kasa_log_in_again(
    plug: PlugEmulator, device: Device, clock: ManualClock
) -> None:
    clock.advance(plug.sessions.timeout_s + 1)  # the plug forgets; python-kasa does not know
    await device.update()  # 403, then a new handshake, then success
    assert plug.sessions.handshakes == 2
    energy = device.modules[Module.Energy]
    assert energy.consumption_today == pytest.approx(1.0)  # 00:00 to 10:00 on the next day
    assert energy.consumption_this_month == pytest.approx(2.4)


async def test_counters_reset_at_local_midnight_and_month_start() -> None:
    clock = ManualClock(at_berlin(2026, 1, 31, 23, 0))
    config = PlugConfig(username=USER, password=PASSWORD, power="constant:100", clock=clock)
    async with PlugEmulator(config) as plug:
        dev = await connect(plug)
        try:
            energy = dev.modules[Module.Energy]
            clock.advance(30 * 60)
            await dev.update()
            assert energy.consumption_today == pytest.approx(0.05)
            assert energy.consumption_this_month == pytest.approx(0.05)

            clock.advance(60 * 60)  # 00:30 on 1 February: new day and new month
            await dev.update()
            assert energy.consumption_today == pytest.approx(0.05)
            assert energy.consumption_this_month == pytest.approx(0.05)
            assert energy.energy["today_runtime"] == 30
            assert energy.energy["local_time"] == "2026-02-01 00:30:00"
            usage = dev.internal_state["get_device_usage"]
            assert usage["power_usage"] == {"today": 50, "past7": 150, "past30": 150}

            clock.advance(22 * 3600)  # 22:30 the same day: still one day
            await dev.update()
            assert energy.consumption_today == pytest.approx(2.25)
            assert energy.consumption_this_month == pytest.approx(2.25)
        finally:
            await dev.disconnect()


async def test_set_alias_renames_the_plug(plug: PlugEmulator, device: Device) -> None:
    await device.set_alias("Monitor")
    await device.update()
    assert device.alias == "Monitor"
    assert plug.identity.alias == "Monitor"


# -- the NAS as the load ---------------------------------------------------------------------


@dataclass
class FakeNasControl:
    """The NAS emulator's control channel as the plug uses it: state, power off, power on."""

    power_w: float = 37.5
    calls: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        async def state(request: Request) -> Response:
            return JSONResponse({"state": "idle", "power_w": self.power_w})

        async def power(request: Request) -> Response:
            action = request.path_params["action"]
            self.calls.append(action)
            return JSONResponse({"ok": True})

        return Starlette(
            routes=[
                Route("/state", state),
                Route("/power/{action:str}", power, methods=["POST"]),
            ]
        )


async def test_nas_source_follows_the_nas_and_cuts_its_power(clock: ManualClock) -> None:
    nas = FakeNasControl()
    async with running_server(nas.app()) as control:
        config = PlugConfig(
            username=USER, password=PASSWORD, power=f"nas:{control.url}", clock=clock
        )
        async with PlugEmulator(config) as plug:
            dev = await connect(plug)
            try:
                energy = dev.modules[Module.Energy]
                assert energy.current_consumption == pytest.approx(37.5)

                nas.power_w = 85.0  # the NAS got busy
                await dev.update()
                assert energy.current_consumption == pytest.approx(85.0)

                await dev.turn_off()
                assert nas.calls == ["off"]
                await dev.update()
                assert energy.current_consumption == 0

                await dev.turn_off()  # already off: the relay does not move, nothing is posted
                await dev.turn_on()
                assert nas.calls == ["off", "on"]
            finally:
                await dev.disconnect()


async def test_unreachable_nas_leaves_the_plug_working(
    clock: ManualClock, unused_tcp_port: int
) -> None:
    config = PlugConfig(
        username=USER,
        password=PASSWORD,
        power=f"nas:http://127.0.0.1:{unused_tcp_port}",
        clock=clock,
    )
    async with PlugEmulator(config) as plug:
        dev = await connect(plug)
        try:
            assert dev.modules[Module.Energy].current_consumption == 0
            await dev.turn_off()
            await dev.update()
            assert not dev.is_on
        finally:
            await dev.disconnect()
