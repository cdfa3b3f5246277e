"""Uploads meet a full disk and a NAS that vanishes mid-push: nothing acknowledged is lost."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from balupi.app import create_app
from balupi.config import Settings, check_data_dir
from balupi.db.models import NasState, QueueStatus, UploadQueueEntry
from balupi.services.container import Services
from balupi.services.uploads.ingest import IngestLimits
from balupi.services.uploads.worker import WorkerSettings
from tests.uploads.conftest import ALICE, Home, eventually


@pytest.fixture
def small_uploads_disk(settings: Settings) -> Iterator[Path]:
    """``DATA_DIR/uploads`` on a 4 MiB tmpfs: a real disk that really fills up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs as root)")
    check_data_dir(settings)
    target = settings.uploads_dir
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


async def test_a_full_disk_gives_507_and_loses_nothing_already_stored(
    small_uploads_disk: Path, settings: Settings
) -> None:
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        services.uploads.ingest.limits = IngestLimits(reserve_bytes=0)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            first = os.urandom(2_500_000)
            kept = await client.post(
                "/api/files/upload",
                headers=ALICE,
                data={"path": "alice"},
                files={"file": ("first.bin", first)},
            )
            too_big = await client.post(
                "/api/files/upload",
                headers=ALICE,
                data={"path": "alice"},
                files={"file": ("second.bin", os.urandom(2_500_000))},
            )
        async with services.sessions() as session:
            rows = (await session.scalars(select(UploadQueueEntry))).all()

    assert kept.status_code == 200
    assert too_big.status_code == 507
    assert [row.target_path for row in rows] == ["alice/first.bin"]
    files = [p for p in small_uploads_disk.iterdir() if p.is_file()]
    assert [p.read_bytes() for p in files] == [first]  # the partial second file is gone


async def test_a_nas_that_vanishes_mid_push_gets_the_file_once_it_returns(home: Home) -> None:
    home.services.uploads.worker.settings = WorkerSettings(first_retry_seconds=0.2)
    content = os.urandom(64 * 1024 * 1024)
    async with home.pi() as client:
        answer = await client.post(
            "/api/files/upload",
            headers=home.token("alice"),
            data={"path": "alice/big.bin"},
            files={"file": ("big.bin", content)},
        )
    assert answer.status_code == 200

    await home.wake()

    async def uploading() -> bool:
        rows = await home.queue()
        return rows[0].status in (QueueStatus.UPLOADING, QueueStatus.VERIFYING)

    await eventually(uploading)
    await home.nas.cut_power()  # the NAS is gone in the middle of the push

    async def failed() -> bool:
        rows = await home.queue()
        return rows[0].status is QueueStatus.FAILED

    await eventually(failed)
    # The push can fail before the link has judged the NAS gone; restoring power before that
    # would let "back online" below pass at once, with the link about to go offline anyway.
    await eventually(lambda: home.services.nas_link.state is not NasState.ONLINE)
    await home.nas.restore_power()

    async def back_online() -> bool:
        # The NAS plug reports its draw every poll: running again. (The link may meanwhile have
        # judged the NAS offline, and then only such a reading makes it look again.)
        await home.services.nas_link.report_power(45.0)
        return home.services.nas_link.state is NasState.ONLINE

    await eventually(back_online)
    await home.settled()

    [row] = await home.queue()
    assert row.status is QueueStatus.SYNCED
    landed = (home.nas.config.storage / "alice/big.bin").read_bytes()
    assert hashlib.sha256(landed).hexdigest() == hashlib.sha256(content).hexdigest()
    assert sorted(p.name for p in (home.nas.config.storage / "alice").iterdir()) == ["big.bin"]
    assert row.attempts >= 1
