"""BaluPi never wakes a soft-sleeping NAS by its own doing (issue 12, item 2).

The NAS emulator runs BaluHost's sleep service with auto-idle on and its time compressed 60
times (an emulated minute is a real second), so the NAS falls asleep in about 1.5 s once nothing
keeps it busy. The link probes every 0.25 s, 15 emulated seconds: 4 requests an emulated minute,
under BaluHost's idle threshold of 5, and well inside "knows within a minute". Waiting is done
on conditions (the NAS's state, the link's), never on fixed sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import SystemClock
from balupi.config import Settings
from balupi.db.models import NasState, User
from balupi.services.auth.tokens import TokenSigner
from balupi.services.container import Services
from balupi.services.nas.client import NasClient
from balupi.services.nas.gate import Purpose, RequestGate
from balupi.services.nas.history import LinkHistory
from balupi.services.nas.link import LinkTiming, NasLink
from balupi.services.nas.probe import SleepProbe
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from balupi.sim.nas.sleep import SleepConfig, SleepConfigUpdate
from balupi.sim.nas.users import DEFAULT_JWT_SECRET
from tests.in_process import pi_in_front_of
from tests.waiting import eventually

SCALE = 60.0  # emulated seconds per real second
PROBE_SECONDS = 0.25  # real: 15 emulated seconds
EMULATED_MINUTE = 60.0 / SCALE  # real seconds
SOFT_SLEEP_WATTS = 20.0  # the emulator's draw in soft sleep: the plug thresholds' "idle"
SUSPEND_WATTS = 3.0  # in true suspend: "standby"
AUTO_IDLE = SleepConfig(
    auto_idle_enabled=True,
    idle_timeout_minutes=1,
    auto_escalation_enabled=True,
    escalation_after_minutes=2,
)


def nas_config(tmp_path: Path, sleep: SleepConfig = AUTO_IDLE) -> NasEmulatorConfig:
    return NasEmulatorConfig(
        storage=tmp_path / "nas", boot_seconds=0.0, sleep=sleep, sleep_time_scale=SCALE
    )


def auto_wakes(nas: NasEmulator) -> list[str]:
    """The reasons of every wake the NAS logged (``auto_wake: METHOD path``)."""
    entries = nas.nas.sleep.history(limit=1000)["entries"]
    return [e["reason"] for e in entries if e["triggered_by"] == "auto_wake"]


def nas_state(nas: NasEmulator) -> Callable[[], str]:
    return lambda: nas.nas.sleep.state.value


@dataclass
class Linked:
    nas: NasEmulator
    link: NasLink
    gate: RequestGate


@pytest.fixture
async def linked(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Linked]:
    """The emulator, and a link probing it through the gate as BaluPi wires them."""
    clock = SystemClock()
    signer = TokenSigner(clock, nas_secret=DEFAULT_JWT_SECRET, signing_key="k" * 32)
    probe = SleepProbe(
        sessions,
        lambda user_id, name, role: signer.mint_nas_access(
            user_id=user_id, username=name, role=role
        ),
    )
    async with NasEmulator(nas_config(tmp_path)) as nas:
        gate = RequestGate(clock)
        async with NasClient(nas.api_url, transport=gate) as client:
            link = NasLink(
                client,
                LinkHistory(sessions),
                clock,
                timing=LinkTiming(health_interval=PROBE_SECONDS),
                probe=probe,
            )
            gate.follow(lambda: link.state)
            await link.start()
            try:
                yield Linked(nas, link, gate)
            finally:
                await link.aclose()


async def test_the_nas_falls_asleep_with_the_link_probing_and_the_link_knows_within_a_minute(
    linked: Linked,
) -> None:
    nas, link, gate = linked.nas, linked.link, linked.gate
    await eventually(lambda: link.state is NasState.ONLINE)
    assert link.snapshot.evidence.startswith("sleep status: awake since ")

    await eventually(lambda: nas_state(nas)() == "soft_sleep", timeout=15)
    await eventually(lambda: link.state is NasState.SLEEPING, timeout=5)

    asleep_at = datetime.fromisoformat(nas.nas.sleep.status()["state_since"])
    assert link.snapshot.since is not None
    assert (link.snapshot.since - asleep_at).total_seconds() <= EMULATED_MINUTE
    assert link.snapshot.nas_sleep_state == "soft_sleep"
    assert link.snapshot.evidence.startswith("sleep status: soft_sleep since ")
    assert auto_wakes(nas) == []  # the probes never woke it

    # The plug reads a soft-sleeping NAS as "idle": that is no sign of a wake.
    await link.report_power(SOFT_SLEEP_WATTS)
    assert link.state is NasState.SLEEPING

    probes = gate.sent[Purpose.PROBE]
    assert probes > 0
    # Two emulated minutes later the NAS escalates to suspend; BaluPi sent nothing meanwhile.
    await eventually(lambda: nas_state(nas)() == "true_suspend", timeout=15)
    assert gate.sent[Purpose.PROBE] == probes
    assert sum(gate.sent.values()) == probes
    assert auto_wakes(nas) == []
    assert link.state is NasState.SLEEPING

    # The plug sees the suspend; the next "idle" reading is a resume, no longer soft sleep.
    await link.report_power(SUSPEND_WATTS)
    assert not link.snapshot.soft_asleep
    await link.report_power(SOFT_SLEEP_WATTS)
    assert link.state is NasState.WAKING


# -- through BaluPi -----------------------------------------------------------------------------


@dataclass
class Home:
    nas: NasEmulator
    services: Services
    pi: httpx.AsyncClient


@pytest.fixture
async def home(tmp_path: Path, settings: Settings) -> AsyncIterator[Home]:
    """BaluPi in front of the emulator, with the NAS's signing key, probing every 0.25 s; the
    NAS's auto-idle is off until the test turns it on."""
    async with (
        NasEmulator(nas_config(tmp_path, SleepConfig())) as nas,
        pi_in_front_of(nas, settings, tmp_path / "pi", nas_probe_seconds=PROBE_SECONDS) as (
            services,
            pi,
        ),
    ):
        yield Home(nas, services, pi)


async def test_a_pass_through_call_wakes_a_soft_sleeping_nas_on_purpose_and_is_answered(
    home: Home,
) -> None:
    link = home.services.nas_link
    await eventually(lambda: link.state is NasState.ONLINE)
    login = await home.pi.post(
        "/api/auth/login", json={"username": "maria", "password": "maria-password"}
    )
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    home.nas.nas.sleep.update_config(
        SleepConfigUpdate(auto_idle_enabled=True, idle_timeout_minutes=1)
    )

    await eventually(lambda: nas_state(home.nas)() == "soft_sleep", timeout=15)
    await eventually(lambda: link.state is NasState.SLEEPING, timeout=5)
    status = (await home.pi.get("/api/nas/status", headers=auth)).json()
    assert status["state"] == "sleeping"
    assert status["sleep"]["asked"] is True
    assert status["sleep"]["current_state"] == "soft_sleep"
    assert status["sleep"]["state_since"] == home.nas.nas.sleep.status()["state_since"]
    assert status["gate"]["requests_sent"]["probe"] > 0
    assert status["gate"]["requests_sent"]["wake"] == 0
    assert auto_wakes(home.nas) == []

    response = await home.pi.get("/api/files/mountpoints", headers=auth)

    assert response.status_code == 200, response.text
    assert auto_wakes(home.nas) == ["auto_wake: GET /api/health"]  # BaluPi's one deliberate wake
    assert nas_state(home.nas)() == "awake"
    status = (await home.pi.get("/api/nas/status", headers=auth)).json()
    assert status["state"] == "online"
    assert status["evidence"].startswith("woken from soft sleep by GET /api/health")
    sent = status["gate"]["requests_sent"]
    assert sent["wake"] == 1
    assert sent["user"] >= 2  # the login and the pass-through call
    assert sent["background"] == 0
    assert status["gate"]["requests_last_minute"] >= 2


# -- whose token the probe carries --------------------------------------------------------------


async def test_the_probe_speaks_as_the_user_the_nas_vouched_for_last(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """BaluHost loads the user by ``sub`` and refuses a missing or inactive one; the Pi's table
    says whom the NAS confirmed and when. Before anyone: BaluHost's first admin, id 1."""
    probe = SleepProbe(sessions, lambda *_: "token")
    assert await probe.probe_identity() == ("1", "admin", "admin")

    seen = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    async with sessions() as session, session.begin():
        session.add_all(
            [
                User(id="7", username="maria", role="user", last_seen_at=seen),
                User(id="3", username="root", role="admin", last_seen_at=seen - timedelta(days=1)),
                User(id="9", username="gone", role="admin", is_active=False, last_seen_at=seen),
                User(id="12", username="never", role="user"),  # met only in a token
            ]
        )
    assert await probe.probe_identity() == ("7", "maria", "user")

    async def refused(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"detail": "User no longer exists"})

    async with NasClient("http://nas.test", transport=httpx.MockTransport(refused)) as client:
        reading = await probe.read(client)
    assert reading.current_state is None  # the NAS answers: up, its sleep unknown
    assert reading.link_state is NasState.ONLINE
    assert await probe.probe_identity() == ("3", "root", "admin")  # the next best
