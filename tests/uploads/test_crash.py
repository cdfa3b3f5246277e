"""SIGKILL at random points of uploads and of pushes: every acknowledged file lands exactly once.

BaluPi runs as a real ``balupi serve`` process in front of the NAS emulator and is killed with
SIGKILL (no shutdown code runs) at random moments, twenty times per scenario, then restarted on
the same data directory. A file the client heard 200 for must end on the NAS with the right
bytes, once (no conflict copies, no duplicates); a file it did not hear 200 for may or may not
land, but is never reported as saved.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from balupi.sim.nas.server import NasEmulator, NasEmulatorConfig
from tests.processes import ServeProcess
from tests.uploads.conftest import HOME_JWT_SECRET, HOME_USERS, bearer, eventually

RUNS = int(os.environ.get("BALUPI_CRASH_RUNS", "20"))
pytestmark = pytest.mark.slow

ALICE = bearer(2, "alice", secret=HOME_JWT_SECRET)
ADMIN = bearer(1, "admin", "admin", secret=HOME_JWT_SECRET)


def pi_process(data_dir: Path, nas: NasEmulator, log: Path) -> ServeProcess:
    """``balupi serve`` in front of ``nas``, which it may wake on the loopback."""
    return ServeProcess(
        log,
        DATA_DIR=str(data_dir),
        NAS_URL=nas.api_url,
        NAS_JWT_SECRET=HOME_JWT_SECRET,
        NAS_MAC=nas.config.mac,
        WOL_BROADCAST="127.0.0.1",
        WOL_PORT=str(nas.wol_port),
        LOG_LEVEL="WARNING",
    )


@pytest.fixture
async def asleep_nas(tmp_path: Path) -> AsyncIterator[NasEmulator]:
    config = NasEmulatorConfig(
        storage=tmp_path / "nas",
        users=HOME_USERS,
        jwt_secret=HOME_JWT_SECRET,
        boot_seconds=0.2,
        start_asleep=True,
    )
    async with NasEmulator(config) as nas:
        yield nas


async def _slow_body(content: bytes, pieces: int = 16) -> AsyncIterator[bytes]:
    """A multipart body sent in pieces, so a kill can land in the middle of it."""
    boundary = "crashtestboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\nalice/crash\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{hashlib.sha256(content).hexdigest()[:12]}.bin"\r\n\r\n'
    ).encode()
    yield head
    step = len(content) // pieces + 1
    for start in range(0, len(content), step):
        await asyncio.sleep(0.005)
        yield content[start : start + step]
    yield f"\r\n--{boundary}--\r\n".encode()


async def _upload(url: str, content: bytes) -> bool:
    """True only when the Pi answered 200 (the client was told: saved)."""
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answer = await client.post(
                "/api/files/upload",
                headers={
                    **ALICE,
                    "Content-Type": "multipart/form-data; boundary=crashtestboundary",
                },
                content=_slow_body(content),
            )
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


async def _settle(pi: ServeProcess) -> None:
    """Wake the NAS through the Pi and wait until the Pi owes it nothing."""
    async with httpx.AsyncClient(base_url=pi.url, timeout=10) as client:
        await client.post("/api/nas/wol", headers=ADMIN)

        async def safe() -> bool:
            status = (await client.get("/api/files/sync/status", headers=ALICE)).json()
            return bool(status["safe_to_power_off"])

        await eventually(safe, timeout=120)


def _nas_files(nas: NasEmulator) -> dict[str, bytes]:
    folder = nas.config.storage / "alice" / "crash"
    if not folder.exists():
        return {}
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _name(content: bytes) -> str:
    return f"{hashlib.sha256(content).hexdigest()[:12]}.bin"


async def test_sigkill_during_uploads_loses_no_acknowledged_file(
    asleep_nas: NasEmulator, tmp_path: Path
) -> None:
    rng = random.Random(20261126)
    pi = pi_process(tmp_path / "pi", asleep_nas, tmp_path / "pi.log")
    acknowledged: list[bytes] = []
    unacknowledged: list[bytes] = []
    with pi.killed_at_exit():
        for _ in range(RUNS):
            await pi.start()
            content = rng.randbytes(rng.randint(100_000, 1_000_000))
            upload = asyncio.create_task(_upload(pi.url, content))
            await asyncio.sleep(rng.uniform(0.0, 1.5))
            pi.kill()
            (acknowledged if await upload else unacknowledged).append(content)
        await pi.start()
        await _settle(pi)

    landed = _nas_files(asleep_nas)
    for content in acknowledged:
        assert landed.get(_name(content)) == content
    for content in unacknowledged:
        assert landed.get(_name(content), content) == content  # if it landed, it is whole
    assert len(landed) == len({_name(c) for c in landed.values()})
    print(f"acknowledged {len(acknowledged)}, not acknowledged {len(unacknowledged)}")


async def test_sigkill_during_pushes_lands_every_file_exactly_once(
    asleep_nas: NasEmulator, tmp_path: Path
) -> None:
    rng = random.Random(112620)
    pi = pi_process(tmp_path / "pi", asleep_nas, tmp_path / "pi.log")
    contents = [rng.randbytes(rng.randint(500_000, 3_000_000)) for _ in range(12)]
    with pi.killed_at_exit():
        await pi.start()
        for content in contents:
            assert await _upload(pi.url, content)
        for _ in range(RUNS):
            async with httpx.AsyncClient(base_url=pi.url, timeout=10) as client:
                await client.post("/api/nas/wol", headers=ADMIN)
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            pi.kill()
            await pi.start()
        await _settle(pi)

    landed = _nas_files(asleep_nas)
    assert landed == {_name(content): content for content in contents}  # nothing twice
