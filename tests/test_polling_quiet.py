"""Client polling stays on the Pi (issue 12, item 3): what four polling clients cost the NAS.

BaluApp and BaluDesk, between user actions, ask every 10 s for ``/api/health``, ``/api/auth/me``
and the listing of the folder on screen. Here four such clients (two phones, a tablet and a
desktop; three users) poll BaluPi in front of the NAS emulator with BaluHost's sleep service on,
on one manual clock: each "10 s" is a clock step and a run of the NAS's timers, never a sleep.
The NAS's own request counter says what reached it.

The link's health probes are another part of issue 12 (they must not wake a soft-sleeping NAS),
so the link's loop is stopped once it has seen the NAS: what is counted here is what the clients'
polling makes BaluPi send, nothing else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from balupi.app import create_app
from balupi.clock import ManualClock
from balupi.config import Settings
from balupi.server import running_server
from balupi.services.auth import verifier
from balupi.services.auth.verifier import ScryptParams
from balupi.services.container import Services
from balupi.sim.nas.server import NasEmulator
from balupi.sim.nas.sleep import SleepConfig, SleepTrigger
from tests.files.conftest import NAS_SECRET, PASSWORDS, STANDBY_WATTS, FilesHome, _seed, clocked_nas

POLL_SECONDS = 10
# Windows shorter than the defaults, so a few minutes of polling cross each of them more than
# once; the budget between optional requests is the default minute.
LISTING_FRESH_SECONDS = 90.0
AUTH_TRUST_SECONDS = 150.0
# (user, folder on screen): BaluDesk on the admin's desktop, phones of alice and bob, and
# alice's tablet showing the shared photos.
CLIENTS = (
    ("admin", "Shared/photos"),
    ("alice", "alice/docs"),
    ("bob", "bob/private"),
    ("alice", "Shared/photos"),
)


@dataclass
class Household:
    home: FilesHome
    tokens: list[dict[str, str]]

    @property
    def nas(self) -> NasEmulator:
        return self.home.nas

    def served(self) -> int:
        return self.nas.nas.requests_served

    def sleep_state(self) -> str:
        return self.nas.nas.sleep.state.value

    async def login_all(self) -> None:
        """Each client logs in through the Pi with its own token (a user action)."""
        for user, _ in CLIENTS:
            response = await self.home.pi.post(
                "/api/auth/login", json={"username": user, "password": PASSWORDS[user]}
            )
            assert response.status_code == 200, response.text
            self.tokens.append({"Authorization": f"Bearer {response.json()['access_token']}"})

    async def poll_round(self) -> list[str]:
        """One round of every client's three requests; each answer as ``path status source``."""
        answers = []
        for (_, folder), auth in zip(CLIENTS, self.tokens, strict=True):
            health = await self.home.pi.get("/api/health")
            me = await self.home.pi.get("/api/auth/me", headers=auth)
            listing = await self.home.pi.get(
                "/api/files/list", params={"path": folder}, headers=auth
            )
            answers += [
                f"health {health.status_code}",
                f"me {me.status_code}",
                f"list {listing.status_code} {listing.headers.get('X-BaluPi-Source')}",
            ]
        await self.home.services.files.listing.settled()  # background revalidations done
        return answers

    async def ten_seconds_pass(self) -> None:
        self.home.clock.advance(POLL_SECONDS)
        await self.nas.sleep_tick()

    async def poll_minutes(self, minutes: int) -> list[int]:
        """Poll for ``minutes``; the NAS requests each minute brought."""
        per_minute = []
        for _ in range(minutes):
            before = self.served()
            for _ in range(60 // POLL_SECONDS):
                answers = await self.poll_round()
                assert all(" 200" in answer for answer in answers), answers
                await self.ten_seconds_pass()
            per_minute.append(self.served() - before)
        return per_minute


@pytest.fixture(autouse=True)
def cheap_verifiers(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at a sixteenth of its cost for the logins (as in tests/auth)."""
    monkeypatch.setattr(verifier, "DEFAULT_PARAMS", ScryptParams(n=2**11))


@pytest.fixture
async def household(tmp_path: Path, settings: Settings) -> AsyncIterator[Household]:
    """The NAS (auto-idle on, BaluHost's 15-minute timeout, timers run by the test) with files,
    BaluPi in front, the four clients logged in and each folder listed once."""
    clock = ManualClock(datetime.now(UTC))
    sleep = SleepConfig(auto_idle_enabled=True, idle_timeout_minutes=15)
    async with clocked_nas(
        tmp_path / "nas", clock, boot_seconds=0.0, sleep=sleep, sleep_tick_seconds=None
    ) as nas:
        pi_settings = settings.model_copy(
            update={
                "data_dir": tmp_path / "pi",
                "nas_url": nas.api_url,
                "nas_jwt_secret": SecretStr(NAS_SECRET),
                "listing_fresh_seconds": LISTING_FRESH_SECONDS,
                "auth_trust_seconds": AUTH_TRUST_SECONDS,
            }
        )
        app = create_app(pi_settings, clock=clock)
        async with (
            running_server(app) as server,
            httpx.AsyncClient(base_url=server.url, timeout=20) as pi,
        ):
            services: Services = app.state.services
            assert await services.nas_link.wait_online(5), "the Pi never saw the NAS"
            await services.nas_link.aclose()  # its probes are not what this measures
            home = FilesHome(clock, nas, services, pi)
            await _seed(home)
            household = Household(home, [])
            await household.login_all()
            assert all(" 200" in answer for answer in await household.poll_round())
            yield household


async def test_four_polling_clients_cost_an_awake_nas_at_most_one_request_a_minute(
    household: Household,
) -> None:
    """Four minutes cross the listings' window twice and the users' trust window once; still
    no minute brings the NAS more than one request, and it counts itself idle throughout."""
    per_minute = await household.poll_minutes(4)

    assert max(per_minute) <= 1, per_minute
    assert sum(per_minute) >= 2, "the windows passed: some revalidation must have gone out"
    status = household.nas.nas.sleep.status()
    assert status["current_state"] == "awake"
    assert status["activity_metrics"]["http_requests_per_minute"] <= 1
    assert status["idle_seconds"] >= 3 * 60  # every idle check since the logins found it idle


async def test_four_polling_clients_send_nothing_to_a_soft_sleeping_nas(
    household: Household,
) -> None:
    """Soft sleep keeps the NAS's HTTP up, and any request wakes it: BaluPi sends none, though
    every window passes, and every answer is still a 200."""
    assert household.nas.nas.sleep.enter_soft_sleep("test", SleepTrigger.MANUAL)
    await household.home.services.nas_link.report_power(STANDBY_WATTS)  # the Pi knows it
    before = household.served()

    per_minute = await household.poll_minutes(3)

    assert per_minute == [0] * 3
    assert household.served() == before
    assert household.sleep_state() == "soft_sleep"


async def test_optional_requests_do_not_wake_a_nas_that_fell_asleep_unseen(
    household: Household,
) -> None:
    """Between two of the link's probes the NAS may fall asleep unseen. Re-checking a user or
    re-listing a folder is background work: the gate sends it with ``X-Sync-Trigger: auto``,
    which BaluHost's auto-wake middleware lets through without a wake."""
    assert household.nas.nas.sleep.enter_soft_sleep("test", SleepTrigger.MANUAL)
    gate = household.home.services.nas_gate
    assert gate is not None
    background_before = gate.sent["background"]

    per_minute = await household.poll_minutes(4)

    assert household.sleep_state() == "soft_sleep"
    assert max(per_minute) <= 1, per_minute
    assert gate.sent["background"] - background_before == sum(per_minute) >= 2


async def test_an_awake_nas_falls_asleep_behind_four_polling_clients(
    household: Household,
) -> None:
    """BaluHost's own rule (15 idle minutes at most 5 requests a minute) sends it to soft sleep
    while the clients go on polling BaluPi; with them talking to it directly it never would."""
    assert household.sleep_state() == "awake"

    await household.poll_minutes(10)
    household.tokens.clear()  # their 15-minute tokens run out: each client logs in again
    await household.login_all()
    await household.poll_minutes(7)

    assert household.sleep_state() == "soft_sleep"
