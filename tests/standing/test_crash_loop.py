"""SIGKILL loop: ``balupi serve`` killed at ingest and during pushes; every acknowledged file lands
once, byte for byte.

One NAS emulator serves the whole loop; only BaluPi is killed (SIGKILL: no shutdown code runs)
and restarted on the same data directory. The kill moments are chosen, not drawn:

* at ingest (the NAS asleep), two clients upload one file after another, so a kill always finds
  uploads in flight; run ``i`` kills ``INGEST_KILL_AFTER[i % …]`` after its first or second 200;
* during a push (the NAS awake), a trap in the emulator's upload handler sees the Pi's request
  arrive and, by run, holds it before or after the NAS stores the file while the Pi is killed (the
  NAS keeps the file, the Pi never hears so), or kills right then or a few milliseconds later.

After the last run BaluPi settles the queue; then each acknowledged file is on the NAS once with
the same SHA-256, and nothing is there twice (no conflict copies of its own retries).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from balupi.sim.nas import files as nas_files
from balupi.sim.nas.server import NasEmulator
from tests.standing import _restarts
from tests.standing._restarts import ForkedServe, pi_settings
from tests.uploads.conftest import HOME_JWT_SECRET, bearer, eventually

RUNS = int(os.environ.get("BALUPI_CRASH_RUNS", "20"))  # per scenario
INGEST_KILL_AFTER = tuple(0.004 * k for k in range(10))  # seconds after the run's 1st or 2nd 200
FOLDER = "alice/crash"
pytestmark = pytest.mark.slow  # RUNS restarts of a real process per test: 10 to 30 s each

ALICE = bearer(2, "alice", secret=HOME_JWT_SECRET)
ADMIN = bearer(1, "admin", "admin", secret=HOME_JWT_SECRET)


nas = _restarts.asleep_nas  # one NAS emulator for the whole loop, asleep at first


@pytest.fixture
def pi(nas: NasEmulator, tmp_path: Path) -> Iterator[ForkedServe]:
    """``balupi serve`` in front of ``nas``, which it may wake on the loopback."""
    serve = ForkedServe(tmp_path / "pi.log", **pi_settings(nas, tmp_path / "pi"))
    with serve.killed_at_exit():
        yield serve


@pytest.fixture
def trap(monkeypatch: pytest.MonkeyPatch) -> PushTrap:
    """The emulator's per-file store, wrapped (the emulator runs in this process)."""
    trap = PushTrap(nas_files._store)
    monkeypatch.setattr(nas_files, "_store", trap.store)
    return trap


@dataclass
class PushTrap:
    """Wraps the emulator's per-file store: tells when a push arrives, and can hold it there."""

    original: Callable[..., Awaitable[None]]
    hold_before: bool = False
    hold_after: bool = False
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def arm(self, *, hold_before: bool = False, hold_after: bool = False) -> None:
        self.hold_before, self.hold_after = hold_before, hold_after
        self.arrived, self.released = asyncio.Event(), asyncio.Event()

    async def store(self, *args: Any) -> None:
        self.arrived.set()
        if self.hold_before:
            await self.released.wait()
        await self.original(*args)
        if self.hold_after:
            await self.released.wait()


@dataclass
class Ledger:
    """What the clients were told: saved (200), or nothing (the Pi died under the upload)."""

    acknowledged: list[bytes] = field(default_factory=list)
    unacknowledged: list[bytes] = field(default_factory=list)
    answered: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_for(self, count: int) -> None:
        """Until ``count`` uploads in all have been answered 200."""
        async with self.answered:
            await asyncio.wait_for(
                self.answered.wait_for(lambda: len(self.acknowledged) >= count), 60
            )

    async def saved(self, content: bytes) -> None:
        async with self.answered:
            self.acknowledged.append(content)
            self.answered.notify_all()


def _name(content: bytes) -> str:
    return f"{hashlib.sha256(content).hexdigest()[:16]}.bin"


async def _slow_body(content: bytes, pieces: int = 8) -> AsyncIterator[bytes]:
    """A multipart body sent in pieces, so a kill can land in the middle of it."""
    boundary = "crashloopboundary"
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\n{FOLDER}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{_name(content)}"\r\n\r\n'
    ).encode()
    step = len(content) // pieces + 1
    for start in range(0, len(content), step):
        await asyncio.sleep(0.003)
        yield content[start : start + step]
    yield f"\r\n--{boundary}--\r\n".encode()


async def _upload(client: httpx.AsyncClient, content: bytes) -> bool:
    """True only when the Pi answered 200 (the client was told: saved)."""
    try:
        answer = await client.post(
            "/api/files/upload",
            headers={**ALICE, "Content-Type": "multipart/form-data; boundary=crashloopboundary"},
            content=_slow_body(content),
        )
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


async def _keep_uploading(url: str, rng: random.Random, ledger: Ledger) -> None:
    """One client uploading file after file until the Pi goes away under it."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while True:
            content = rng.randbytes(rng.randint(20_000, 300_000))
            if not await _upload(client, content):
                ledger.unacknowledged.append(content)
                return
            await ledger.saved(content)


async def _wake(pi: ForkedServe) -> None:
    async with httpx.AsyncClient(base_url=pi.url, timeout=10) as client:
        answer = await client.post("/api/nas/wol", headers=ADMIN)
        assert answer.status_code == 200, answer.text


async def _settle(pi: ForkedServe) -> None:
    """Wait until the Pi owes the NAS nothing."""
    async with httpx.AsyncClient(base_url=pi.url, timeout=10) as client:

        async def safe() -> bool:
            status = (await client.get("/api/files/sync/status", headers=ALICE)).json()
            return bool(status["safe_to_power_off"])

        await eventually(safe, timeout=120)


async def _ingest_runs(pi: ForkedServe, rng: random.Random, ledger: Ledger) -> None:
    for run in range(RUNS):
        await pi.start()
        clients = [asyncio.create_task(_keep_uploading(pi.url, rng, ledger)) for _ in range(2)]
        await ledger.wait_for(len(ledger.acknowledged) + 1 + run % 2)
        await asyncio.sleep(INGEST_KILL_AFTER[run % len(INGEST_KILL_AFTER)])  # the chosen moment
        pi.kill()
        await asyncio.gather(*clients)


async def _push_runs(
    pi: ForkedServe, rng: random.Random, ledger: Ledger, trap: PushTrap
) -> list[str]:
    """Kill during a push, in four ways by turns; returns how each run's kill landed."""
    moments: list[str] = []
    for run in range(RUNS):
        way = run % 4
        trap.arm(hold_before=way == 0, hold_after=way == 1)
        await pi.start()
        await _wake(pi)
        content = rng.randbytes(rng.randint(20_000, 300_000))  # pushed as soon as it is saved
        async with httpx.AsyncClient(base_url=pi.url, timeout=30) as client:
            assert await _upload(client, content)
        await ledger.saved(content)
        await asyncio.wait_for(trap.arrived.wait(), timeout=30)
        if way == 2:
            await asyncio.sleep(0.01 * (run // 4))  # 0 … 40 ms after the request arrived
        pi.kill()
        trap.released.set()
        moments.append(("held before store", "held after store", "delayed", "at arrival")[way])
    return moments


def _on_nas(nas: NasEmulator) -> dict[str, bytes]:
    folder = nas.config.storage / FOLDER
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _verdict(nas: NasEmulator, ledger: Ledger) -> tuple[list[str], list[str], list[str]]:
    """Acknowledged files lost, files that should not be there (duplicates), torn files."""
    landed = {name: hashlib.sha256(data).hexdigest() for name, data in _on_nas(nas).items()}
    acknowledged = {_name(c): hashlib.sha256(c).hexdigest() for c in ledger.acknowledged}
    whole = {_name(c): hashlib.sha256(c).hexdigest() for c in ledger.unacknowledged}
    lost = [name for name, sha in acknowledged.items() if landed.get(name) != sha]
    strangers = [n for n in landed if n not in acknowledged and n not in whole]
    torn = [n for n, sha in landed.items() if n in whole and whole[n] != sha]
    return lost, strangers, torn


async def _finish(pi: ForkedServe, nas: NasEmulator, ledger: Ledger, what: str) -> None:
    """Restart once more, let the queue settle, and hold the NAS's files against the ledger."""
    await pi.start()
    await _wake(pi)
    await _settle(pi)
    lost, duplicated, torn = _verdict(nas, ledger)
    print(
        f"SIGKILL loop, {what}: {RUNS} runs; acknowledged {len(ledger.acknowledged)}, "
        f"not acknowledged {len(ledger.unacknowledged)}; lost {len(lost)}, "
        f"duplicated {len(duplicated)}, torn {len(torn)}"
    )
    assert lost == []
    assert duplicated == []  # no conflict copies or second copies of the Pi's own retries
    assert torn == []


async def test_sigkill_at_ingest_loses_no_acknowledged_upload(
    nas: NasEmulator, pi: ForkedServe
) -> None:
    rng = random.Random(20261208)
    ledger = Ledger()
    await _ingest_runs(pi, rng, ledger)
    assert len(ledger.unacknowledged) == 2 * RUNS  # every kill cut both clients' uploads
    assert len(ledger.acknowledged) >= RUNS  # and came while uploads were being answered
    await _finish(pi, nas, ledger, "at ingest")


async def test_sigkill_during_pushes_lands_every_file_once(
    nas: NasEmulator, pi: ForkedServe, trap: PushTrap
) -> None:
    rng = random.Random(8122026)
    ledger = Ledger()
    moments = await _push_runs(pi, rng, ledger, trap)
    trap.arm()
    print("kills during pushes:", {m: moments.count(m) for m in dict.fromkeys(moments)})
    await _finish(pi, nas, ledger, "during pushes")
