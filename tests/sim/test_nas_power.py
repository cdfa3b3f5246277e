"""The emulated NAS's power behaviour: sleep closes its socket, Wake-on-LAN boots it, the plug
sees the right watts, and its lifecycle notices are signed as the real NAS signs them.

Unit tests drive ``PowerModel`` and the packet/notice helpers with a fake clock; the rest runs the
emulator on real loopback sockets (ephemeral ports) and waits by polling its control channel.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from balupi.sim.asgi_server import AsgiServer
from balupi.sim.nas.notices import sign_notice, wire_json
from balupi.sim.nas.power import (
    DRAW_WATTS,
    OffReason,
    PowerModel,
    PowerReading,
    PowerState,
    PowerTransitionError,
)
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from balupi.sim.nas.users import UserSpec
from balupi.sim.nas.wol import (
    build_magic_packet,
    normalize_mac,
    parse_magic_packet,
    send_magic_packet,
)

MAC = "02:42:ba:10:00:01"
OTHER_MAC = "02:42:ba:10:00:02"
HANDSHAKE_SECRET = "handshake-secret-0123456789abcdef0123"
FIXTURE = Path(__file__).resolve().parents[3] / "shared/fixtures/handshake/baluhost-notices.json"
DEADLINE = 5.0

# -- the power model on its own ----------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeActivity:
    requests_in_flight: int = 0
    last_request_at: float | None = None


def model(**kwargs: Any) -> tuple[PowerModel, FakeClock, FakeActivity]:
    clock, activity = FakeClock(), FakeActivity()
    return PowerModel(clock=clock, activity=activity, busy_seconds=3.0, **kwargs), clock, activity


def test_draw_in_each_state() -> None:
    assert dict(DRAW_WATTS) == {
        PowerState.OFF: 0.5,
        PowerState.ASLEEP: 3.0,
        PowerState.BOOTING: 60.0,
        PowerState.IDLE: 40.0,
        PowerState.BUSY: 85.0,
        PowerState.SOFT_SLEEP: 20.0,
    }
    power, _, _ = model()
    seen = [(power.state, power.power_w)]
    power.sleep()
    seen.append((power.state, power.power_w))
    power.wake()
    seen.append((power.state, power.power_w))
    power.cut_power()
    seen.append((power.state, power.power_w))
    assert seen == [
        (PowerState.IDLE, 40.0),
        (PowerState.ASLEEP, 3.0),
        (PowerState.BOOTING, 60.0),
        (PowerState.OFF, 0.5),
    ]


def test_busy_while_a_request_is_in_flight_and_for_a_while_after() -> None:
    power, clock, activity = model()
    activity.requests_in_flight = 1
    assert (power.state, power.power_w) == (PowerState.BUSY, 85.0)
    clock.now += 10
    activity.requests_in_flight, activity.last_request_at = 0, clock.now
    assert power.state is PowerState.BUSY
    clock.now += 3
    assert power.reading().state is PowerState.IDLE


def test_requests_before_a_suspend_do_not_keep_the_resumed_machine_busy() -> None:
    power, clock, activity = model()
    activity.last_request_at = clock.now
    power.sleep()
    power.wake()
    clock.now += 1
    power.boot_complete()
    assert power.state is PowerState.IDLE


def test_resume_from_sleep_is_warm_and_boot_from_shutdown_is_cold() -> None:
    power, _, _ = model()
    power.sleep()
    power.wake()
    assert not power.cold_boot
    power.boot_complete()
    power.shut_down()
    assert power.reading().off_reason is OffReason.SHUTDOWN
    assert power.wake()  # standby power: WoL or the power button boots it
    assert power.cold_boot


def test_a_cut_machine_ignores_wake_until_power_returns() -> None:
    power, _, _ = model(start_asleep=True)
    power.cut_power()
    with pytest.raises(PowerTransitionError):
        power.wake()
    assert power.restore_power()
    assert power.state is PowerState.BOOTING
    assert power.cold_boot
    assert not power.restore_power()  # the plug was already on


def test_impossible_transitions_raise_and_repeats_are_no_ops() -> None:
    power, _, _ = model(start_asleep=True)
    assert not power.sleep()
    with pytest.raises(PowerTransitionError):
        power.boot_complete()
    with pytest.raises(PowerTransitionError):
        power.shut_down()
    power.wake()
    assert not power.wake()


def test_listeners_hear_each_transition_until_removed() -> None:
    power, clock, _ = model()
    heard: list[PowerReading] = []
    remove = power.add_listener(heard.append)
    clock.now = 2_000.0
    power.sleep()
    remove()
    power.wake()
    assert heard == [PowerReading(PowerState.ASLEEP, 2_000.0, 3.0, None)]


# -- magic packets --------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["02:42:BA:10:00:01", "02-42-ba-10-00-01", "0242ba100001"])
def test_macs_are_normalised(spelling: str) -> None:
    assert normalize_mac(spelling) == MAC


def test_a_bad_mac_is_refused() -> None:
    with pytest.raises(ValueError, match="not a MAC"):
        normalize_mac("02:42:ba:10:00")


def test_magic_packet_layout() -> None:
    packet = build_magic_packet(MAC)
    assert len(packet) == 102
    assert packet[:6] == b"\xff" * 6
    assert packet[6:] == bytes.fromhex("0242ba100001") * 16


@pytest.mark.parametrize(
    "data",
    [
        build_magic_packet(MAC),
        build_magic_packet(MAC, password=b"\x01\x02\x03\x04"),
        build_magic_packet(MAC, password=b"secret"),
        b"\x00\x01header" + build_magic_packet(MAC) + b"trailer",
    ],
    ids=["plain", "secureon-4", "secureon-6", "embedded"],
)
def test_magic_packets_are_recognised(data: bytes) -> None:
    assert parse_magic_packet(data) == MAC


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff" * 6 + bytes.fromhex("0242ba100001") * 15, b"\xff" * 102, b"hello"],
    ids=["empty", "15-repeats", "all-ff", "text"],
)
def test_other_data_is_not_a_magic_packet(data: bytes) -> None:
    expected = "ff:ff:ff:ff:ff:ff" if data == b"\xff" * 102 else None
    assert parse_magic_packet(data) == expected


def test_user_specs_parse_with_optional_role() -> None:
    assert UserSpec.parse("ann:pw:admin") == UserSpec("ann", "pw", "admin")
    assert UserSpec.parse("bob:pa:ss") == UserSpec("bob", "pa:ss", "user")
    with pytest.raises(ValueError, match="expected name:password"):
        UserSpec.parse("nobody")


# -- notices --------------------------------------------------------------------------------------


def verify_notice(
    secret: str, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> bool:
    """A receiver's check, written independently of the emulator: canonical JSON, not raw bytes."""
    canonical = (
        json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
        if body
        else b""
    )
    timestamp = headers["X-Balupi-Timestamp"]
    message = f"{method}:{path}:{timestamp}:{hashlib.sha256(canonical).hexdigest()}"
    expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Balupi-Signature"])


@pytest.mark.skipif(not FIXTURE.exists(), reason="shared handshake fixture not present")
def test_signer_reproduces_the_real_nas_notices() -> None:
    captured = json.loads(FIXTURE.read_text())
    for request in captured["requests"]:
        raw = base64.b64decode(request["body_base64"])
        body = json.loads(raw) if raw else None
        headers = request["headers"]
        signature = sign_notice(
            captured["secret"],
            request["method"],
            request["path"],
            headers["X-Balupi-Timestamp"],
            body,
        )
        assert signature == headers["X-Balupi-Signature"]
        if body is not None:
            assert wire_json(body) == raw  # the same bytes on the wire as the real NAS


# -- the emulator on real sockets ---------------------------------------------------------------


EmulatorFactory = Callable[..., AbstractAsyncContextManager[NasEmulator]]


@pytest.fixture
def emulator(tmp_path: Path) -> EmulatorFactory:
    """``async with emulator(boot_seconds=…) as nas``: a NAS on ephemeral loopback ports."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[NasEmulator]:
        settings: dict[str, Any] = {
            "storage": tmp_path / "storage",
            "mac": MAC,
            "boot_seconds": 0.2,
            "users": (UserSpec("admin", "admin-pw", "admin"),),
        } | overrides
        async with NasEmulator(NasEmulatorConfig(**settings)) as nas:
            yield nas

    return make


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=DEADLINE) as client:
        yield client


async def control(http: httpx.AsyncClient, nas: NasEmulator, action: str = "") -> dict[str, Any]:
    """``GET /state`` or ``POST /<action>`` on the control channel."""
    if action:
        response = await http.post(f"{nas.control_url}/{action}")
    else:
        response = await http.get(f"{nas.control_url}/state")
    response.raise_for_status()
    status: dict[str, Any] = response.json()
    return status


async def poll(
    http: httpx.AsyncClient, control_url: str, until: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The control channel's state once ``until`` holds; fails after the deadline."""
    async with asyncio.timeout(DEADLINE):
        while True:
            status: dict[str, Any] = (await http.get(f"{control_url}/state")).json()
            if until(status):
                return status
            await asyncio.sleep(0.01)


def is_up(status: dict[str, Any]) -> bool:
    return status["state"] in ("idle", "busy")


async def test_asleep_the_api_refuses_connections_and_serves_nothing(
    emulator: EmulatorFactory, http: httpx.AsyncClient
) -> None:
    async with emulator() as nas:
        assert (await http.get(f"{nas.api_url}/api/health")).status_code == 200
        slept = await control(http, nas, "sleep")
        assert (slept["state"], slept["api_listening"]) == ("asleep", False)
        await control(http, nas, "reset-counters")
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{nas.api_url}/api/health")
        assert (await control(http, nas))["requests_served"] == 0


async def test_a_magic_packet_for_its_mac_boots_it_after_boot_seconds(
    emulator: EmulatorFactory, http: httpx.AsyncClient
) -> None:
    async with emulator(start_asleep=True, boot_seconds=0.2) as nas:
        api_url = nas.api_url
        transitions: list[PowerState] = []
        nas.power.add_listener(lambda reading: transitions.append(reading.state))
        sent = time.monotonic()
        send_magic_packet(MAC, "127.0.0.1", _wol_port(nas))
        status = await poll(http, nas.control_url, is_up)
        assert time.monotonic() - sent >= 0.2
        assert transitions == [PowerState.BOOTING, PowerState.IDLE]
        assert status["wol_wakeups"] == 1
        assert nas.api_url == api_url  # the same port, rebound at once
        assert (await http.get(f"{nas.api_url}/api/health")).status_code == 200
        assert (await control(http, nas))["requests_served"] == 1


async def test_while_booting_the_api_is_still_closed(
    emulator: EmulatorFactory, http: httpx.AsyncClient
) -> None:
    async with emulator(start_asleep=True, boot_seconds=1.0) as nas:
        assert await nas.wake(wait=False)
        assert (await control(http, nas))["state"] == "booting"
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{nas.api_url}/api/health")


async def test_a_magic_packet_for_another_mac_does_not_wake_it(
    emulator: EmulatorFactory, http: httpx.AsyncClient
) -> None:
    async with emulator(start_asleep=True) as nas:
        send_magic_packet(OTHER_MAC, "127.0.0.1", _wol_port(nas))
        send_garbage_datagram(_wol_port(nas))
        status = await poll(http, nas.control_url, lambda s: s["wol_datagrams"] == 2)
        assert (status["state"], status["wol_wakeups"]) == ("asleep", 0)
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{nas.api_url}/api/health")


def send_garbage_datagram(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"not a magic packet", ("127.0.0.1", port))


async def test_the_control_channel_reports_the_draw_of_each_state(
    emulator: EmulatorFactory, http: httpx.AsyncClient
) -> None:
    def draw(status: dict[str, Any]) -> tuple[str, float]:
        return status["state"], status["power_w"]

    async with emulator(busy_seconds=60.0) as nas:
        assert draw(await control(http, nas)) == ("idle", 40.0)
        await http.get(f"{nas.api_url}/api/health")
        assert draw(await control(http, nas)) == ("busy", 85.0)
        assert draw(await control(http, nas, "sleep")) == ("asleep", 3.0)
        assert draw(await control(http, nas, "wake")) == ("booting", 60.0)
        assert draw(await poll(http, nas.control_url, is_up)) == (
            "idle",
            40.0,
        )  # earlier work is forgotten
        off = await control(http, nas, "power/off")
        assert (*draw(off), off["off_reason"]) == ("off", 0.5, "power_cut")
        assert draw(await control(http, nas, "power/on")) == ("booting", 60.0)
        assert draw(await poll(http, nas.control_url, is_up)) == ("idle", 40.0)
        assert nas.power_w == 40.0


async def test_a_machine_whose_plug_is_off_cannot_be_woken(
    emulator: EmulatorFactory, http: httpx.AsyncClient
) -> None:
    async with emulator() as nas:
        await control(http, nas, "power/off")
        send_magic_packet(MAC, "127.0.0.1", _wol_port(nas))
        status = await poll(http, nas.control_url, lambda s: s["wol_datagrams"] == 1)
        assert status["state"] == "off"
        refused = await http.post(f"{nas.control_url}/wake")
        assert refused.status_code == 409
        await control(http, nas, "power/on")
        await poll(http, nas.control_url, is_up)
        assert (await http.get(f"{nas.api_url}/api/health")).status_code == 200


async def test_the_api_socket_closes_and_reopens_within_the_emulator(
    emulator: EmulatorFactory, http: httpx.AsyncClient
) -> None:
    async with emulator() as nas:
        token = (
            await http.post(
                f"{nas.api_url}/api/auth/login",
                json={"username": "admin", "password": "admin-pw"},
            )
        ).json()["access_token"]
        assert await nas.sleep()
        assert nas.state is PowerState.ASLEEP
        async with asyncio.timeout(DEADLINE):
            assert await nas.wake()
        # A suspended machine keeps its RAM: the token from before still works.
        me = await http.get(
            f"{nas.api_url}/api/auth/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.status_code == 200


# -- lifecycle notices, received by a tiny BaluPi stand-in ----------------------------------------


@dataclass
class Notice:
    path: str
    headers: Mapping[str, str]  # case-insensitive, as a receiver sees them
    body: bytes


@dataclass
class NoticeReceiver:
    notices: list[Notice] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: Request) -> JSONResponse:
        notice = Notice(request.url.path, request.headers, await request.body())
        async with self.arrived:
            self.notices.append(notice)
            self.arrived.notify_all()
        return JSONResponse({"acknowledged": True})

    async def wait_for(self, count: int) -> list[Notice]:
        async with asyncio.timeout(DEADLINE), self.arrived:
            await self.arrived.wait_for(lambda: len(self.notices) >= count)
        return self.notices


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[NoticeReceiver, str]]:
    notices = NoticeReceiver()
    app = Starlette(routes=[Route("/api/handshake/{kind}", notices.handle, methods=["POST"])])
    server = AsgiServer(app)
    await server.start()
    try:
        yield notices, server.url
    finally:
        await server.close()


async def test_lifecycle_notices_are_sent_on_start_and_shutdown_only(
    emulator: EmulatorFactory,
    http: httpx.AsyncClient,
    receiver: tuple[NoticeReceiver, str],
) -> None:
    notices, url = receiver
    async with emulator(notify_url=url, handshake_secret=HANDSHAKE_SECRET) as nas:
        (online,) = await notices.wait_for(1)
        assert online.path == "/api/handshake/nas-coming-online"
        assert online.body == b""
        assert verify_notice(HANDSHAKE_SECRET, "POST", online.path, online.headers, b"")

        await control(http, nas, "sleep")  # suspend: the real NAS says nothing
        async with asyncio.timeout(DEADLINE):
            await nas.wake()
        assert len(notices.notices) == 1

        assert (await control(http, nas, "shutdown"))["off_reason"] == "shutdown"
        offline = notices.notices[1]
        assert offline.path == "/api/handshake/nas-going-offline"
        assert verify_notice(HANDSHAKE_SECRET, "POST", offline.path, offline.headers, offline.body)
        # On the wire: httpx 0.27's encoding, so hashing the raw bytes would not verify.
        assert b'{"version": 1, "generated_at": ' in offline.body
        assert abs(int(offline.headers["X-Balupi-Timestamp"]) - time.time()) < 60
        snapshot = json.loads(offline.body)
        assert snapshot["users"] == {"total": 1, "list": [{"username": "admin", "role": "admin"}]}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", snapshot["generated_at"])

        # Standby power: a magic packet cold-boots it, and the backend announces itself again.
        send_magic_packet(MAC, "127.0.0.1", _wol_port(nas))
        await poll(http, nas.control_url, is_up)
        third = (await notices.wait_for(3))[2]
        assert third.path == "/api/handshake/nas-coming-online"


async def test_a_failed_notice_is_only_logged(
    emulator: EmulatorFactory, http: httpx.AsyncClient
) -> None:
    unreachable = AsgiServer(Starlette())
    unreachable.reserve()  # bound, never listening: every connection is refused
    try:
        async with emulator(notify_url=unreachable.url, handshake_secret=HANDSHAKE_SECRET) as nas:
            assert (await control(http, nas, "shutdown"))["state"] == "off"
    finally:
        await unreachable.close()


def _wol_port(nas: NasEmulator) -> int:
    assert nas.wol_port is not None
    return nas.wol_port


# -- the command line -----------------------------------------------------------------------------


async def test_the_command_line_runs_sleeps_on_sigusr1_wakes_on_sigusr2_and_stops_on_sigterm(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    storage = tmp_path / "storage"
    command = [
        sys.executable, "-m", "balupi", "sim", "nas", "--port", "0", "--control-port", "0",
        "--wol-port", "0", "--boot-seconds", "0.1", "--storage", str(storage),
        "--user", "ann:ann-pw:admin", "--user", "ben:ben-pw",
    ]  # fmt: skip
    with (tmp_path / "stderr.txt").open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=stderr
        )
        try:
            assert process.stdout is not None
            async with asyncio.timeout(DEADLINE * 2):
                banner = (await process.stdout.readline()).decode()
            found = re.search(r"control (http://127\.0\.0\.1:\d+)", banner)
            assert found, (banner, (tmp_path / "stderr.txt").read_text()[-3000:])
            control_url = found[1]

            await poll(http, control_url, lambda s: s["state"] == "idle")
            assert {p.name for p in storage.iterdir()} == {"Shared", "ann", "ben"}
            process.send_signal(signal.SIGUSR1)
            await poll(http, control_url, lambda s: s["state"] == "asleep")
            process.send_signal(signal.SIGUSR2)
            await poll(http, control_url, is_up)
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(DEADLINE):
                assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
