"""Sync that does not fight sleep (issue 12, item 4).

Uploads taken while the NAS sleeps wait for it; the worker never wakes it for a background push,
and every wake, for any reason, drains the whole queue. ``SYNC_MAX_WAIT`` bounds how long an
accepted upload may stay only on the Pi: then BaluPi wakes the NAS itself, once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from balupi.config import ConfigError, Settings, load_settings
from balupi.db.models import NasState, QueueStatus, UploadQueueEntry
from balupi.errors import NasRejected, NasUnreachable
from balupi.services.container import Services
from balupi.services.nas.gate import Purpose
from balupi.services.uploads.worker import met_a_sleeping_nas
from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from balupi.sim.nas.sleep import SleepConfig, SleepTrigger
from balupi.sim.nas.tokens import mint_access_token
from tests.in_process import pi_in_front_of
from tests.waiting import eventually


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("6h", 21_600.0), ("90", 90.0), ("1h30m", 5_400.0), ("45s", 45.0), ("0", 0.0), (120, 120.0)],
)
def test_sync_max_wait_takes_seconds_or_a_duration(value: object, seconds: float) -> None:
    assert Settings(sync_max_wait=value).sync_max_wait == seconds


def test_sync_max_wait_defaults_to_six_hours() -> None:
    assert Settings().sync_max_wait == 6 * 3600


@pytest.mark.parametrize("value", ["6x", "h", "soon", "-1", "1h 2"])
def test_a_bad_sync_max_wait_names_the_variable(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALUPI_SYNC_MAX_WAIT", value)
    with pytest.raises(ConfigError, match="BALUPI_SYNC_MAX_WAIT"):
        load_settings()


# -- against the NAS emulator with its sleep service ----------------------------------------------

PROBE_SECONDS = 0.1  # the link asks the NAS's sleep status this often (real seconds)


@dataclass
class SleepyHome:
    """The NAS emulator with BaluHost's sleep service (auto-idle off: the test puts it to sleep)
    and a real BaluPi in front of it that knows the NAS's signing key, so it reads its sleep."""

    nas: NasEmulator
    services: Services
    pi: httpx.AsyncClient

    def token(self, username: str = "maria") -> dict[str, str]:
        user = self.nas.nas.user_by_name(username)
        assert user is not None
        return {"Authorization": f"Bearer {mint_access_token(self.nas.nas, user)}"}

    @property
    def sleep_state(self) -> str:
        return self.nas.nas.sleep.state.value

    def auto_wakes(self) -> list[str]:
        """Every wake the NAS logged, with its reason (``auto_wake: METHOD path``)."""
        entries = self.nas.nas.sleep.history(limit=1000)["entries"]
        return [e["reason"] for e in entries if e["triggered_by"] == "auto_wake"]

    async def soft_sleep(self) -> None:
        assert self.nas.nas.sleep.enter_soft_sleep("test", SleepTrigger.MANUAL)
        await eventually(lambda: self.services.nas_link.state is NasState.SLEEPING)

    async def upload(self, path: str, content: bytes) -> None:
        answer = await self.pi.post(
            "/api/files/upload",
            headers=self.token(),
            data={"path": path},
            files={"file": (path.rsplit("/", 1)[-1], content)},
        )
        assert answer.status_code == 200, answer.text

    async def queue(self) -> list[UploadQueueEntry]:
        async with self.services.sessions() as session:
            rows = await session.scalars(select(UploadQueueEntry).order_by(UploadQueueEntry.id))
            return list(rows.all())

    async def synced(self) -> bool:
        rows = await self.queue()
        return bool(rows) and all(row.status is QueueStatus.SYNCED for row in rows)

    async def upload_waits(self, path: str, content: bytes) -> None:
        """Upload ``path`` and wait until the worker has looked at the queue since."""
        worker = self.services.uploads.worker
        looked = worker.passes_skipped
        await self.upload(path, content)
        await eventually(lambda: worker.passes_skipped > looked)

    def landed_once(self, path: str, content: bytes) -> None:
        """The NAS holds ``content`` at ``path``, once: no second copy beside it."""
        target = self.nas.config.storage / path
        assert (
            hashlib.sha256(target.read_bytes()).hexdigest() == hashlib.sha256(content).hexdigest()
        )
        assert [p.name for p in target.parent.iterdir()] == [target.name]


def sleepy_home(max_wait: str) -> Callable[..., AsyncIterator[SleepyHome]]:
    @pytest.fixture
    async def fixture(tmp_path: Path, settings: Settings) -> AsyncIterator[SleepyHome]:
        config = NasEmulatorConfig(storage=tmp_path / "nas", boot_seconds=0.0, sleep=SleepConfig())
        wait = Settings(sync_max_wait=max_wait).sync_max_wait
        async with (
            NasEmulator(config) as nas,
            pi_in_front_of(
                nas,
                settings,
                tmp_path / "pi",
                nas_probe_seconds=PROBE_SECONDS,
                sync_max_wait=wait,
            ) as (services, pi),
        ):
            home = SleepyHome(nas, services, pi)
            await eventually(lambda: home.services.nas_link.state is NasState.ONLINE)
            yield home

    return fixture


home = sleepy_home("6h")
impatient_home = sleepy_home("1s")
eager_home = sleepy_home("0")


async def test_an_upload_taken_in_soft_sleep_waits_and_lands_once_the_nas_wakes_for_another_reason(
    home: SleepyHome,
) -> None:
    content = os.urandom(256 * 1024)
    await home.soft_sleep()

    await home.upload_waits("maria/asleep.jpg", content)

    [row] = await home.queue()
    assert row.status is QueueStatus.PENDING
    assert home.sleep_state == "soft_sleep"
    assert home.auto_wakes() == []  # the push did not wake it
    assert not (home.nas.config.storage / "maria/asleep.jpg").exists()
    status = (await home.pi.get("/api/files/sync/status", headers=home.token())).json()
    forced = datetime.fromisoformat(status["forced_wake_at"])
    assert forced == row.created_at + timedelta(hours=6)
    assert status["sync_max_wait_seconds"] == 6 * 3600

    # A user asks for something only the NAS can answer: BaluPi wakes it for them, and the
    # worker uses that wake to push.
    answer = await home.pi.get("/api/files/mountpoints", headers=home.token())
    assert answer.status_code == 200, answer.text
    assert home.auto_wakes() == ["auto_wake: GET /api/health"]
    await eventually(home.synced)

    home.landed_once("maria/asleep.jpg", content)
    [row] = await home.queue()
    assert row.attempts == 0
    assert home.services.uploads.worker.forced_wakes == 0
    assert home.auto_wakes() == ["auto_wake: GET /api/health"]
    status = (await home.pi.get("/api/files/sync/status", headers=home.token())).json()
    assert status["forced_wake_at"] is None


async def test_past_sync_max_wait_the_pi_wakes_the_nas_once_and_the_upload_lands_once(
    impatient_home: SleepyHome,
) -> None:
    home = impatient_home
    content = os.urandom(128 * 1024)
    await home.soft_sleep()

    await home.upload("maria/late.jpg", content)
    [row] = await home.queue()
    status = (await home.pi.get("/api/files/sync/status", headers=home.token())).json()
    assert datetime.fromisoformat(status["forced_wake_at"]) == row.created_at + timedelta(seconds=1)
    await eventually(home.synced)

    home.landed_once("maria/late.jpg", content)
    assert home.services.uploads.worker.forced_wakes == 1
    assert home.auto_wakes() == ["auto_wake: GET /api/health"]  # the Pi's one deliberate wake
    [row] = await home.queue()
    assert row.attempts == 0


async def test_with_sync_max_wait_zero_an_upload_is_pushed_at_once_waking_the_nas(
    eager_home: SleepyHome,
) -> None:
    home = eager_home
    content = os.urandom(64 * 1024)
    await home.soft_sleep()

    await home.upload("maria/now.jpg", content)
    await eventually(home.synced)

    home.landed_once("maria/now.jpg", content)
    assert home.services.uploads.worker.forced_wakes == 1
    assert home.auto_wakes() == ["auto_wake: GET /api/health"]


async def test_a_wake_drains_the_whole_queue_with_the_retries_that_are_due_by_then(
    home: SleepyHome,
) -> None:
    first, second = os.urandom(32 * 1024), os.urandom(32 * 1024)
    await home.soft_sleep()
    await home.upload_waits("maria/first.jpg", first)
    await home.upload_waits("maria/second.jpg", second)
    # The first failed before the NAS fell asleep; its retry came due while it slept.
    async with home.services.sessions.begin() as session:
        row = await session.get(UploadQueueEntry, (await home.queue())[0].id)
        assert row is not None
        row.status, row.attempts = QueueStatus.FAILED, 1
        row.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
    passes = home.services.uploads.worker.passes

    answer = await home.pi.get("/api/files/mountpoints", headers=home.token())
    assert answer.status_code == 200, answer.text
    await eventually(home.synced)

    storage = home.nas.config.storage / "maria"
    assert sorted(p.name for p in storage.iterdir()) == ["first.jpg", "second.jpg"]
    assert (storage / "first.jpg").read_bytes() == first
    assert (storage / "second.jpg").read_bytes() == second
    assert home.services.uploads.worker.passes == passes + 1  # one pass drained it all


async def test_a_push_the_gate_holds_back_because_the_nas_sleeps_waits_without_costing_an_attempt(
    home: SleepyHome,
) -> None:
    gate, link = home.services.nas_gate, home.services.nas_link
    assert gate is not None
    gate.follow(lambda: NasState.SLEEPING)  # it fell asleep just as the pass began

    await home.upload("maria/held.jpg", b"held back")

    ended: list[UploadQueueEntry] = []

    async def push_ended() -> bool:
        rows = await home.queue()
        if gate.refused[Purpose.BACKGROUND] > 0 and rows[0].status not in (
            QueueStatus.UPLOADING,
            QueueStatus.VERIFYING,
        ):
            ended.append(rows[0])  # the row as the refused pass left it (read once, not again)
            return True
        return False

    await eventually(push_ended)
    row = ended[0]
    assert (row.status, row.attempts, row.last_error) == (QueueStatus.PENDING, 0, None)
    assert gate.refused[Purpose.BACKGROUND] == 1  # the pass stopped at the first refusal
    assert link.state is NasState.ONLINE  # not reported unreachable: it sleeps

    gate.follow(lambda: link.state)
    home.services.uploads.worker.kick()  # as the link's next "online" would
    await eventually(home.synced)
    home.landed_once("maria/held.jpg", b"held back")
    [row] = await home.queue()
    assert row.attempts == 0


async def test_background_pushes_do_not_wake_a_nas_that_fell_asleep_unseen(
    home: SleepyHome,
) -> None:
    """The link has not yet seen the NAS fall asleep: the push goes, marked
    ``X-Sync-Trigger: auto``, and BaluHost serves it without waking (not a sync route)."""
    link = home.services.nas_link
    await link.aclose()  # the link's last word stays "online"
    assert home.nas.nas.sleep.enter_soft_sleep("test", SleepTrigger.MANUAL)

    await home.upload("maria/unseen.jpg", b"pushed in its sleep")
    await eventually(home.synced)

    home.landed_once("maria/unseen.jpg", b"pushed in its sleep")
    assert home.sleep_state == "soft_sleep"
    assert home.auto_wakes() == []


def test_only_the_nas_s_scrubbed_503_to_background_work_means_asleep() -> None:
    assert met_a_sleeping_nas(NasRejected(503, "Internal server error"))
    assert not met_a_sleeping_nas(NasRejected(503, "Service temporarily unavailable"))
    assert not met_a_sleeping_nas(NasRejected(500, "Internal server error"))
    assert not met_a_sleeping_nas(NasUnreachable("NAS request failed: no connection"))
