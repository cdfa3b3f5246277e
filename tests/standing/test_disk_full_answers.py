"""A full disk is a 507 with a plain ``detail`` on every route, not a 500 (issue 11, finding 13).

The real thing: BaluPi runs on a 16 MB tmpfs in a private mount namespace (``unshare -rm``,
``disk_full_probe.py``), the disk is filled, and the writes that hit SQLite or the file system
on the Pi (a sync policy, a tariff, a mkdir queued while the NAS sleeps) are sent.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

import pytest

from balupi.api.errors import speaks_codes

REPO = Path(__file__).resolve().parents[2]
FULL_DETAIL = "Insufficient storage on BaluPi"

pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None, reason="needs unshare for a private tmpfs"
)


async def test_every_write_on_a_full_disk_is_a_507_with_a_sentence(tmp_path: Path) -> None:
    mount = tmp_path / "pi"
    mount.mkdir()
    script = (
        'mount -t tmpfs -o size=16m tmpfs "$1" && exec "$2" -m tests.standing.disk_full_probe "$1"'
    )
    probe = await asyncio.create_subprocess_exec(
        "unshare",
        "-rm",
        "sh",
        "-c",
        script,
        "sh",
        str(mount),
        sys.executable,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await probe.communicate()
    assert probe.returncode == 0, err.decode()[-3000:]
    answers = json.loads(out.decode().strip().splitlines()[-1])
    assert len(answers) == 3
    for method, path, status, body in answers:
        # the Pi's own routes (a sync policy, a tariff) add the code; the NAS's keep BaluHost's body
        code = {"code": "disk_full"} if speaks_codes(path.split("?")[0]) else {}
        assert (status, body) == (507, {"detail": FULL_DETAIL, **code}), (method, path, status)
