"""The NAS emulator's sleep service, as BaluHost runs it (docs/compat/nas-sleep.md).

Every test runs a real emulator on loopback with a manual clock and no background ticker: time
moves only when a test advances it, and the service's timers run when the test calls
``nas.sleep_tick()``. Nothing here sleeps to wait for a timer.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.waiting import eventually

from balupi.clock import ManualClock
from balupi.sim.nas import cli
from balupi.sim.nas.power import PowerState
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from balupi.sim.nas.sleep import SleepConfig
from balupi.sim.nas.state import EmulatedNas
from balupi.sim.nas.tokens import mint_access_token
from balupi.sim.nas.users import DEFAULT_JWT_SECRET, DEFAULT_MAC
from balupi.sim.nas.wol import send_magic_packet
from balupi.sim.plug.power import NasPower

DEADLINE = 5.0
AUTO_IDLE = SleepConfig(auto_idle_enabled=True, idle_timeout_minutes=1)
SCRUBBED = {"detail": "Internal server error"}


class Harness:
    """One running emulator, its manual clock and an HTTP client for its API."""

    def __init__(self, nas: NasEmulator, clock: ManualClock, http: httpx.AsyncClient) -> None:
        self.nas, self.clock, self.http = nas, clock, http

    def token(self, username: str = "admin") -> dict[str, str]:
        """A fresh access token on the NAS's own clock (time moves a lot in these tests)."""
        user = self.nas.nas.user_by_name(username)
        assert user is not None
        return {"Authorization": f"Bearer {mint_access_token(self.nas.nas, user)}"}

    async def call(
        self, method: str, path: str, *, user: str | None = "admin", **kwargs: Any
    ) -> httpx.Response:
        headers = {**(self.token(user) if user else {}), **kwargs.pop("headers", {})}
        return await self.http.request(method, self.nas.api_url + path, headers=headers, **kwargs)

    async def state(self) -> str:
        response = await self.call("GET", "/api/system/sleep/status")
        assert response.status_code == 200
        return str(response.json()["current_state"])

    async def history(self) -> list[dict[str, Any]]:
        response = await self.call("GET", "/api/system/sleep/history")
        assert response.status_code == 200
        return list(response.json()["entries"])

    async def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.nas.sleep_tick()

    async def soft_sleep(self) -> None:
        response = await self.call("POST", "/api/system/sleep/soft")
        assert response.json() == {"success": True, "message": "Entered soft sleep mode"}
        assert self.nas.nas.sleep.state.value == "soft_sleep"


@asynccontextmanager
async def running(
    tmp_path: Path,
    sleep: SleepConfig | None = None,
    *,
    notices: list[str] | None = None,
    **config: Any,
) -> AsyncIterator[Harness]:
    clock = ManualClock(datetime.now(UTC))
    storage = tmp_path / "storage"
    state = EmulatedNas(storage, DEFAULT_JWT_SECRET, clock=lambda: clock.now().timestamp())
    extra: dict[str, Any] = {}
    transport = None
    if notices is not None:

        def record(request: httpx.Request) -> httpx.Response:
            notices.append(request.url.path)
            return httpx.Response(200, json={"acknowledged": True})

        transport = httpx.MockTransport(record)
        extra = {"notify_url": "http://pi.test", "handshake_secret": "s" * 32}
    emulator_config = NasEmulatorConfig(
        storage=storage,
        boot_seconds=0.0,
        sleep=sleep or SleepConfig(),
        sleep_tick_seconds=None,
        **extra,
        **config,
    )
    async with (
        NasEmulator(emulator_config, state=state, notice_transport=transport) as nas,
        httpx.AsyncClient(timeout=DEADLINE) as http,
    ):
        yield Harness(nas, clock, http)


async def plug_reads(h: Harness) -> float:
    """What the plug emulator in front of this NAS measures now (its ``nas:URL`` source)."""
    plug = NasPower(h.nas.control_url)
    try:
        await plug.refresh()
        return plug.watts(h.clock.now())
    finally:
        await plug.aclose()


# -- configuration ------------------------------------------------------------------------------


async def test_off_by_default_with_baluhosts_defaults(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        config = (await h.call("GET", "/api/system/sleep/config")).json()
        assert {k: config[k] for k in SleepConfig.model_fields} == {
            "auto_idle_enabled": False,
            "idle_timeout_minutes": 15,
            "idle_cpu_threshold": 5.0,
            "idle_disk_io_threshold": 0.5,
            "idle_http_threshold": 5.0,
            "auto_escalation_enabled": False,
            "escalation_after_minutes": 60,
            "schedule_enabled": False,
            "schedule_sleep_time": "23:00",
            "schedule_wake_time": "06:00",
            "schedule_mode": "soft",
            "pause_monitoring": True,
            "pause_disk_io": True,
            "reduced_telemetry_interval": 30.0,
            "disk_spindown_enabled": True,
            "presence_enabled": True,
            "presence_mode": "active",
            "presence_timeout_minutes": 3,
        }
        await h.advance(24 * 3600)
        assert await h.state() == "awake"
        assert await h.history() == []


async def test_config_is_admin_only_validated_and_partial(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        path = "/api/system/sleep/config"
        assert (await h.call("GET", path, user="maria")).status_code == 403
        assert (await h.call("GET", path, user=None)).status_code == 401
        bad = await h.call("PUT", path, json={"idle_timeout_minutes": 0})
        assert bad.status_code == 422
        changed = await h.call(
            "PUT", path, json={"auto_idle_enabled": True, "idle_timeout_minutes": 2}
        )
        assert changed.status_code == 200
        assert changed.json()["auto_idle_enabled"] is True
        assert changed.json()["idle_timeout_minutes"] == 2
        assert changed.json()["idle_http_threshold"] == 5.0  # untouched
        assert (await h.call("GET", path)).json() == changed.json()


def test_cli_flags_switch_the_sleep_service_on_and_scale_its_time(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    plain = cli.config_from_args(parser.parse_args([]), tmp_path)
    assert plain.sleep == SleepConfig()
    assert plain.sleep_time_scale == 1.0
    flags = "--auto-idle --idle-timeout-minutes 2 --idle-http-threshold 3 --auto-escalation"
    scaled = ["--escalation-after-minutes", "5", "--sleep-time-scale", "60"]
    args = parser.parse_args([*flags.split(), *scaled])
    config = cli.config_from_args(args, tmp_path)
    assert config.sleep == SleepConfig(
        auto_idle_enabled=True,
        idle_timeout_minutes=2,
        idle_http_threshold=3.0,
        auto_escalation_enabled=True,
        escalation_after_minutes=5,
    )
    assert config.sleep_time_scale == 60.0
    with pytest.raises(ValueError, match="idle_timeout_minutes"):
        cli.config_from_args(parser.parse_args(["--idle-timeout-minutes", "0"]), tmp_path)


# -- idle detection -----------------------------------------------------------------------------


async def test_idle_for_the_timeout_enters_soft_sleep_and_lowers_the_draw(tmp_path: Path) -> None:
    async with running(tmp_path, AUTO_IDLE) as h:
        assert h.nas.power.state in (PowerState.IDLE, PowerState.BUSY)
        await h.advance(30)
        status = (await h.call("GET", "/api/system/sleep/status")).json()
        assert (status["current_state"], status["idle_seconds"]) == ("awake", 30.0)
        assert status["idle_threshold_seconds"] == 60.0
        await h.advance(30)
        status = (await h.call("GET", "/api/system/sleep/status", user="maria")).json()
        assert status["current_state"] == "soft_sleep"
        assert status["spun_down_disks"]
        assert status["auto_idle_enabled"] is True
        assert (h.nas.power.state, h.nas.power_w) == (PowerState.SOFT_SLEEP, 20.0)
        assert await plug_reads(h) == 20.0
        control = (await h.http.get(h.nas.control_url + "/state")).json()
        assert (control["state"], control["sleep_state"]) == ("soft_sleep", "soft_sleep")
        [entry] = await h.history()
        assert (entry["previous_state"], entry["new_state"]) == ("awake", "soft_sleep")
        assert (entry["reason"], entry["triggered_by"]) == ("auto_idle", "auto_idle")
        assert entry["timestamp"].endswith("Z")


async def test_polling_over_the_threshold_keeps_it_awake_even_on_whitelisted_paths(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, AUTO_IDLE) as h:
        for _ in range(3 * 10):  # ten polls a minute for three minutes: 10 > 5 requests/min
            assert (await h.call("GET", "/api/sync/preflight")).status_code == 200
            await h.advance(6)
        status = (await h.call("GET", "/api/system/sleep/status")).json()
        assert status["current_state"] == "awake"
        assert status["activity_metrics"]["http_requests_per_minute"] > 5.0


async def test_presence_heartbeats_are_not_activity(tmp_path: Path) -> None:
    async with running(tmp_path, AUTO_IDLE) as h:
        for _ in range(2 * 6):
            beat = await h.call(
                "POST",
                "/api/system/sleep/presence",
                user="maria",
                json={"client_id": "phone-1", "client_type": "mobile"},
            )
            assert beat.status_code == 200
            await h.advance(10)
        assert h.nas.nas.sleep.state.value == "soft_sleep"
        presence = (await h.call("GET", "/api/system/sleep/status")).json()["presence"]
        assert (presence["anyone_present"], presence["active_session_count"]) == (True, 1)


async def test_an_upload_in_progress_keeps_it_awake(tmp_path: Path) -> None:
    async with running(tmp_path, AUTO_IDLE) as h:
        init = await h.call(
            "POST",
            "/api/files/upload/chunked/init",
            json={"filename": "big.bin", "total_size": 10, "target_path": "Shared"},
        )
        assert init.status_code in (200, 201), init.text
        await h.advance(5 * 60)
        assert await h.state() == "awake"


async def test_time_scale_compresses_every_timer(tmp_path: Path) -> None:
    async with running(tmp_path, AUTO_IDLE, sleep_time_scale=60.0) as h:
        before = h.clock.now()
        await h.advance(1.0)  # one real second: two emulated idle checks
        assert await h.state() == "soft_sleep"
        [entry] = await h.history()
        moment = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
        assert before < moment <= h.clock.now()  # shown on the real clock


async def test_the_background_ticker_drives_the_timers_on_the_real_clock(tmp_path: Path) -> None:
    """Without a manual clock: a minute's idle timeout at 600x passes in a tenth of a second."""
    config = NasEmulatorConfig(
        storage=tmp_path / "storage",
        sleep=AUTO_IDLE,
        sleep_time_scale=600.0,
        sleep_tick_seconds=0.02,
    )
    async with NasEmulator(config) as nas:

        async def asleep() -> bool:
            return nas.power.state is PowerState.SOFT_SLEEP

        await eventually(asleep, DEADLINE)
        assert nas.status()["sleep_state"] == "soft_sleep"


# -- soft sleep ---------------------------------------------------------------------------------


async def test_a_request_off_the_whitelist_wakes_it_at_once(tmp_path: Path) -> None:
    async with running(tmp_path, AUTO_IDLE) as h:
        await h.advance(60)
        assert h.nas.nas.sleep.state.value == "soft_sleep"
        await h.advance(45)
        health = await h.call("GET", "/api/health", user=None)
        assert health.status_code == 200
        assert await h.state() == "awake"
        assert h.nas.power.state is not PowerState.SOFT_SLEEP
        wake = (await h.history())[0]
        assert (wake["previous_state"], wake["new_state"]) == ("soft_sleep", "awake")
        assert (wake["reason"], wake["triggered_by"]) == ("auto_wake: GET /api/health", "auto_wake")
        assert wake["duration_seconds"] == 45.0


async def test_whitelisted_paths_do_not_wake_it_and_still_need_a_token(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        await h.soft_sleep()
        assert (await h.call("GET", "/api/system/sleep/status", user=None)).status_code == 401
        assert (await h.call("GET", "/api/sync/preflight", user=None)).status_code == 401
        assert (await h.call("GET", "/api/system/info", user="maria")).status_code == 200
        assert (await h.call("GET", "/health", user=None)).status_code == 404
        beat = {"client_id": "desk", "client_type": "desktop"}
        assert (await h.call("POST", "/api/system/sleep/presence", json=beat)).status_code == 200
        preflight = (await h.call("GET", "/api/sync/preflight", user="maria")).json()
        assert preflight["sync_allowed"] is False
        assert preflight["current_sleep_state"] == "soft_sleep"
        assert preflight["block_reason"] == "sleep_active"
        assert await h.state() == "soft_sleep"
        assert len(await h.history()) == 1


@pytest.mark.parametrize("trigger", ["auto", "scheduled", "AUTO"])
async def test_background_sync_is_refused_scrubbed_and_does_not_wake(
    tmp_path: Path, trigger: str
) -> None:
    async with running(tmp_path) as h:
        await h.soft_sleep()
        headers = {"X-Sync-Trigger": trigger}
        for method, path in (("POST", "/api/sync/changes"), ("GET", "/api/sync/state")):
            refused = await h.call(method, path, user="maria", headers=headers, json={})
            assert refused.status_code == 503
            assert refused.json() == SCRUBBED
            assert "retry-after" not in refused.headers
        listing = await h.call("GET", "/api/files/list", user="maria", headers=headers)
        assert listing.status_code == 200  # served, but not a wake
        assert await h.state() == "soft_sleep"


async def test_a_manual_sync_wakes_it_and_background_sync_runs_while_awake(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as h:
        await h.soft_sleep()
        manual = await h.call(
            "GET", "/api/sync/state", user="maria", headers={"X-Sync-Trigger": "manual"}
        )
        assert manual.status_code != 503
        assert await h.state() == "awake"
        assert (await h.history())[0]["reason"] == "auto_wake: GET /api/sync/state"
        auto = await h.call(
            "GET", "/api/sync/state", user="maria", headers={"X-Sync-Trigger": "auto"}
        )
        assert auto.status_code == manual.status_code


async def test_manual_routes_are_admin_only_and_409_from_the_wrong_state(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        for action in ("soft", "wake", "suspend"):
            response = await h.call("POST", f"/api/system/sleep/{action}", user="maria")
            assert response.status_code == 403
        assert (await h.call("GET", "/api/system/sleep/history", user="maria")).status_code == 403
        awake = await h.call("POST", "/api/system/sleep/wake")
        assert awake.status_code == 409
        assert awake.json() == {"detail": "Cannot wake from current state"}
        assert (await h.history()) == []


async def test_the_manual_routes_are_off_the_whitelist_so_the_guard_wakes_first(
    tmp_path: Path,
) -> None:
    """BaluHost's own quirk: in soft sleep ``POST /wake`` is woken by the guard, then finds the
    machine awake and answers 409; ``POST /soft`` wakes it and puts it straight back to sleep."""
    async with running(tmp_path) as h:
        await h.soft_sleep()
        wake = await h.call("POST", "/api/system/sleep/wake")
        assert wake.json() == {"detail": "Cannot wake from current state"}
        assert await h.state() == "awake"
        entry = (await h.history())[0]
        assert (entry["reason"], entry["triggered_by"]) == (
            "auto_wake: POST /api/system/sleep/wake",
            "auto_wake",
        )
        await h.soft_sleep()
        await h.soft_sleep()  # woken by the guard, asleep again
        reasons = [e["reason"] for e in await h.history()]
        manual, woken = "manual by admin", "auto_wake: POST /api/system/sleep/soft"
        assert reasons[:3] == [manual, woken, manual]


# -- true suspend -------------------------------------------------------------------------------


async def refused(h: Harness) -> bool:
    try:
        await h.http.get(h.nas.api_url + "/health")  # whitelisted: never wakes it
    except httpx.ConnectError:
        return True
    return False


async def test_escalation_suspends_without_a_notice_and_wol_wakes_it(tmp_path: Path) -> None:
    notices: list[str] = []
    escalating = AUTO_IDLE.model_copy(
        update={"auto_escalation_enabled": True, "escalation_after_minutes": 2}
    )
    async with running(tmp_path, escalating, notices=notices) as h:

        async def announced() -> bool:
            return bool(notices)

        await eventually(announced, DEADLINE)  # the boot's coming-online notice went out
        await h.advance(60)
        await h.advance(119)
        assert h.nas.nas.sleep.state.value == "soft_sleep"
        await h.advance(1)
        assert await refused(h)
        assert (h.nas.state, h.nas.power_w) == (PowerState.ASLEEP, 3.0)
        assert await plug_reads(h) == 3.0  # standby

        send_magic_packet(DEFAULT_MAC, "127.0.0.1", h.nas.wol_port or 0)

        async def up() -> bool:
            return h.nas.state in (PowerState.IDLE, PowerState.BUSY)

        await eventually(up, DEADLINE)
        assert await h.state() == "awake"
        history = await h.history()
        assert [(e["new_state"], e["reason"]) for e in reversed(history)] == [
            ("soft_sleep", "auto_idle"),
            ("true_suspend", "auto_escalation"),
            ("awake", "resume_from_suspend"),
        ]
        assert history[1]["triggered_by"] == "auto_escalation"
        assert notices == ["/api/handshake/nas-coming-online"]  # none for sleep or resume


async def test_a_fresh_presence_heartbeat_blocks_escalation(tmp_path: Path) -> None:
    escalating = SleepConfig(auto_escalation_enabled=True, escalation_after_minutes=2)
    async with running(tmp_path, escalating) as h:
        await h.soft_sleep()
        await h.advance(60)
        beat = {"client_id": "phone", "client_type": "mobile"}
        assert (await h.call("POST", "/api/system/sleep/presence", json=beat)).status_code == 200
        await h.advance(60)
        assert not await refused(h)
        assert await h.state() == "soft_sleep"


async def test_manual_suspend_answers_then_the_api_goes_away(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        response = await h.call("POST", "/api/system/sleep/suspend", json={"reason": "night"})
        assert response.json() == {"success": True, "message": "System suspended"}
        await h.nas.sleep_tick()  # waits for the suspend the route asked for
        assert await refused(h)
        assert h.nas.status()["sleep_state"] == "true_suspend"
        assert h.nas.power_w == 3.0
        await h.nas.wake()
        entries = await h.history()
        assert [(e["new_state"], e["triggered_by"]) for e in reversed(entries)] == [
            ("soft_sleep", "manual"),
            ("true_suspend", "manual"),
            ("awake", "auto_wake"),
        ]


async def test_a_cold_boot_starts_the_service_awake(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        await h.soft_sleep()
        await h.nas.cut_power()
        await h.nas.restore_power()
        await h.nas.wait_until_up()
        assert await h.state() == "awake"
        assert h.nas.power.state is not PowerState.SOFT_SLEEP
