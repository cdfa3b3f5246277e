"""Helpers for tests that run BaluPi as a real process, as systemd runs it on the Pi."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from balupi.sim.measure import free_port

__all__ = ["ServeProcess", "clean_environment", "free_port"]


def clean_environment(**extra: str) -> dict[str, str]:
    """The test process's environment without BaluPi's or systemd's variables, plus ``extra``."""
    dropped = ("BALUPI_", "NOTIFY_SOCKET", "WATCHDOG_")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    environment.update(extra)
    return environment


class ServeProcess:
    """``balupi serve`` in a subprocess on a free loopback port, killable at any moment.

    ``settings`` are ``BALUPI_*`` variables without the prefix (``{"DATA_DIR": …}``); mDNS is
    off unless they turn it on, and the output goes to ``log``.
    """

    def __init__(self, log: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        variables = {"MDNS_ENABLED": "false", **settings, "PORT": str(self.port)}
        self._env = clean_environment(**{f"BALUPI_{k}": v for k, v in variables.items()})
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 30) -> None:
        """Start, and return once ``/api/health`` answers 200."""
        with self._log.open("ab") as sink:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "balupi", "serve"],
                env=self._env,
                stdout=sink,
                stderr=sink,
            )
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=1) as client:
            while True:
                try:
                    if (await client.get("/api/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    assert self._process.poll() is None, self._log.read_text()[-3000:]
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError("balupi serve did not answer /api/health in time")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()
        self._process = None

    @contextmanager
    def killed_at_exit(self) -> Iterator[None]:
        try:
            yield
        finally:
            self.kill()
