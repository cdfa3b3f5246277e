"""BaluPi as a process beside one NAS emulator: ``ForkedServe`` (killed and restarted again and
again, each start fast) and the NAS fixture the SIGKILL loop and the disk-full test share."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from balupi.sim.nas.server import NasEmulator
from tests.processes import clean_environment, free_port, wait_healthy
from tests.uploads.conftest import HOME_JWT_SECRET, asleep_home_nas

ZYGOTE = Path(__file__).with_name("_serve_zygote.py")


@pytest.fixture(name="nas")
async def asleep_nas(tmp_path: Path) -> AsyncIterator[NasEmulator]:
    """One NAS emulator for a whole test, asleep at first; only BaluPi is ever killed."""
    async with NasEmulator(asleep_home_nas(tmp_path / "nas", boot_seconds=0.1)) as emulator:
        yield emulator


def pi_settings(nas: NasEmulator, data_dir: Path) -> dict[str, str]:
    """``BALUPI_*`` settings (without the prefix) of a Pi in front of ``nas``, waking it on the
    loopback."""
    return {
        "DATA_DIR": str(data_dir),
        "NAS_URL": nas.api_url,
        "NAS_JWT_SECRET": HOME_JWT_SECRET,
        "NAS_MAC": nas.config.mac,
        "WOL_BROADCAST": "127.0.0.1",
        "WOL_PORT": str(nas.wol_port),
        "LOG_LEVEL": "WARNING",
        "MDNS_ENABLED": "false",
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class ForkedServe:
    """``balupi serve`` on the same settings and data, one process at a time, killable anytime.

    The processes are forked by ``_serve_zygote.py``, which has imported BaluPi already; each gets
    its own free loopback port (``url``).
    """

    def __init__(self, log: Path, **settings: str) -> None:
        variables = {"MDNS_ENABLED": "false", **settings}
        self._log = log
        self._zygote = subprocess.Popen(
            [sys.executable, str(ZYGOTE), str(log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=clean_environment(**{f"BALUPI_{k}": v for k, v in variables.items()}),
        )
        self._pid: int | None = None
        self.url = ""
        self.starts = 0

    async def start(self, timeout: float = 60) -> None:
        """Fork a server; return once its ``/api/health`` answers 200."""
        assert self._pid is None, "kill the running BaluPi first"
        assert self._zygote.stdin is not None
        assert self._zygote.stdout is not None
        port = free_port()
        self._zygote.stdin.write(f"{port}\n".encode())
        self._zygote.stdin.flush()
        answer = await asyncio.to_thread(self._zygote.stdout.readline)  # seconds the first time
        assert answer, f"the zygote is gone: {self._log.read_text()[-3000:]}"
        pid = self._pid = int(answer)
        self.url = f"http://127.0.0.1:{port}"
        self.starts += 1
        await wait_healthy(self.url, lambda: _alive(pid), self._log, timeout)

    def kill(self) -> None:
        """SIGKILL, and wait until the process is gone: no shutdown code of BaluPi's runs."""
        if self._pid is None:
            return
        pid, self._pid = self._pid, None
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(pid):  # the kernel reaps it at once (the zygote ignores SIGCHLD)
            assert time.monotonic() < deadline, f"process {pid} outlived SIGKILL"
            time.sleep(0.002)

    @contextmanager
    def killed_at_exit(self) -> Iterator[None]:
        try:
            yield
        finally:
            self.kill()
            assert self._zygote.stdin is not None
            assert self._zygote.stdout is not None
            self._zygote.stdin.close()
            self._zygote.wait(timeout=10)
            self._zygote.stdout.close()
