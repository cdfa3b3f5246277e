"""Disk full: BaluPi's data directory on an 8 MiB tmpfs in a private mount namespace.

BaluPi runs in its own process under ``unshare -rm`` (``_tmpfs_pi.py``), the tmpfs mounted over
its data directory there; the test reaches the same tmpfs through ``/proc/<pid>/root``. The NAS
sleeps, so every upload stays on the Pi until the end. Expected: what does not fit is a 507 with
a plain ``detail``; what was acknowledged is never lost; the service keeps answering; folder,
tariff and sync-policy writes on a full disk are 507 too; once space is free, uploads work again;
and when the NAS wakes, every acknowledged file lands intact.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import random
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from balupi.sim.nas.server import NasEmulator
from tests.processes import clean_environment
from tests.standing import _restarts
from tests.standing._restarts import pi_settings, wait_healthy
from tests.uploads.conftest import HOME_JWT_SECRET, bearer, eventually

TMPFS = "8m"
HELPER = Path(__file__).with_name("_tmpfs_pi.py")
MOUNT_THEN_RUN = f'mount -t tmpfs -o size={TMPFS} tmpfs "$0" && exec "$@"'
ALICE = bearer(2, "alice", secret=HOME_JWT_SECRET)
ADMIN = bearer(1, "admin", "admin", secret=HOME_JWT_SECRET)
MIB = 1024 * 1024

pytestmark = pytest.mark.slow  # a process in a namespace, 8 MiB written twice, a NAS wake: ~10 s

nas = _restarts.asleep_nas  # asleep: every upload stays on the Pi until the end


def _unshare_refusal(probe: Path) -> str | None:
    """Why a private tmpfs cannot be mounted here, or None when it can."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe.mkdir()
    try:
        done = subprocess.run(
            ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=1m tmpfs "$0"', str(probe)],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare -rm could not run: {exc}"
    if done.returncode != 0:
        return f"unshare -rm with a tmpfs mount is not permitted here: {done.stderr.decode()[:200]}"
    return None


@dataclass
class TmpfsPi:
    url: str
    disk: Path  # the tmpfs, as seen from outside the namespace

    def free(self) -> int:
        stats = os.statvfs(self.disk)
        return stats.f_bavail * stats.f_frsize


@pytest.fixture
async def pi(nas: NasEmulator, tmp_path: Path) -> AsyncIterator[TmpfsPi]:
    refusal = _unshare_refusal(tmp_path / "probe")
    if refusal:
        pytest.skip(refusal)
    data_dir = tmp_path / "pi"
    data_dir.mkdir()
    log = tmp_path / "pi.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            ["unshare", "-rm", "sh", "-c", MOUNT_THEN_RUN, str(data_dir), sys.executable, HELPER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=sink,
            env=clean_environment(
                **{f"BALUPI_{k}": v for k, v in pi_settings(nas, data_dir).items()}
            ),
        )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        url = (await asyncio.to_thread(process.stdout.readline)).decode().strip()
        assert url, log.read_text()[-3000:]
        await wait_healthy(url, lambda: process.poll() is None, log)
        yield TmpfsPi(url, Path(f"/proc/{process.pid}/root") / data_dir.relative_to("/"))
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def _name(content: bytes) -> str:
    return f"{hashlib.sha256(content).hexdigest()[:16]}.bin"


async def _upload(client: httpx.AsyncClient, content: bytes) -> httpx.Response:
    return await client.post(
        "/api/files/upload",
        headers=ALICE,
        data={"path": "alice/full"},
        files={"file": (_name(content), content)},
    )


def _fill(disk: Path) -> Path:
    """A ballast file that takes every byte left on ``disk``."""
    ballast = disk / "ballast"
    chunk = b"\0" * 64 * 1024
    refused: OSError | None = None
    with ballast.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            refused = exc
    assert refused is not None
    assert refused.errno == errno.ENOSPC
    return ballast


def _plain_507(answer: httpx.Response, what: str) -> None:
    assert answer.status_code == 507, f"{what}: {answer.status_code} {answer.text}"
    detail = answer.json()["detail"]
    assert isinstance(detail, str), f"{what}: {answer.text}"
    assert "Errno" not in detail, f"{what}: {answer.text}"


async def test_a_full_disk_is_507_loses_nothing_and_recovers(pi: TmpfsPi, nas: NasEmulator) -> None:
    rng = random.Random(8)
    acknowledged: list[bytes] = []
    async with httpx.AsyncClient(base_url=pi.url, timeout=30) as client:
        # Uploads of 1 MiB until one does not fit.
        for _ in range(12):
            content = rng.randbytes(MIB)
            answer = await _upload(client, content)
            if answer.status_code != 200:
                break
            acknowledged.append(content)
        _plain_507(answer, "an upload that does not fit")
        assert acknowledged, "not even one upload fitted on the tmpfs"

        # A streamed upload (no Content-Length) runs into the full disk on the way: 507, and its
        # partial spool does not stay behind.
        free_before = pi.free()

        async def stream() -> AsyncIterator[bytes]:
            boundary = "diskfullboundary"
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\n'
                f"alice/full\r\n--{boundary}\r\nContent-Disposition: form-data; "
                f'name="file"; filename="stream.bin"\r\n\r\n'
            ).encode()
            for _ in range(16):
                yield rng.randbytes(256 * 1024)
            yield f"\r\n--{boundary}--\r\n".encode()

        answer = await client.post(
            "/api/files/upload",
            headers={**ALICE, "Content-Type": "multipart/form-data; boundary=diskfullboundary"},
            content=stream(),
        )
        _plain_507(answer, "a streamed upload that runs into the full disk")
        assert pi.free() >= free_before - 64 * 1024  # the spool was removed

        # Nothing left at all: every write is a 507, every read still answers.
        ballast = _fill(pi.disk)
        _plain_507(await _upload(client, b"one byte too many"), "an upload on a full disk")
        answer = await client.post("/api/files/mkdir", headers=ALICE, json={"path": "alice/new"})
        _plain_507(answer, "mkdir on a full disk")
        answer = await client.post(
            "/api/energy/tariffs",
            headers=ADMIN,
            json={"name": "full", "price_per_kwh": "0.30", "valid_from": "2026-01-01"},
        )
        _plain_507(answer, "a tariff on a full disk")
        answer = await client.put(
            "/api/sync/policies", headers=ADMIN, json={"folder": "alice", "policy": "ask"}
        )
        _plain_507(answer, "a sync policy on a full disk")
        assert (await client.get("/api/health")).status_code == 200
        status = await client.get("/api/files/sync/status", headers=ALICE)
        assert status.status_code == 200, status.text
        assert status.json()["pending_count"] == len(acknowledged)

        # Space again: uploads work again.
        ballast.unlink()
        content = rng.randbytes(64 * 1024)
        answer = await _upload(client, content)
        assert answer.status_code == 200, answer.text
        acknowledged.append(content)

        # The NAS wakes: every acknowledged file lands, byte for byte.
        assert (await client.post("/api/nas/wol", headers=ADMIN)).status_code == 200

        async def safe() -> bool:
            status = (await client.get("/api/files/sync/status", headers=ALICE)).json()
            return bool(status["safe_to_power_off"])

        await eventually(safe, timeout=60)
    folder = nas.config.storage / "alice" / "full"
    landed = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert landed == {_name(c): hashlib.sha256(c).hexdigest() for c in acknowledged}
    print(f"disk full: {len(acknowledged)} acknowledged, 0 lost; 507 for uploads and writes")
