"""Helpers for tests that run BaluPi as a real process, as systemd runs it on the Pi."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from balupi.sim.measure import free_port
from tests.waiting import eventually

__all__ = ["ServeProcess", "clean_environment", "free_port", "wait_healthy"]


def clean_environment(**extra: str) -> dict[str, str]:
    """The test process's environment without BaluPi's or systemd's variables, plus ``extra``."""
    dropped = ("BALUPI_", "NOTIFY_SOCKET", "WATCHDOG_")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    environment.update(extra)
    return environment


async def wait_healthy(url: str, alive: Callable[[], bool], log: Path, timeout: float = 60) -> None:
    """Return once ``url``'s ``/api/health`` answers 200; fail with the log if the process died."""
    async with httpx.AsyncClient(base_url=url, timeout=1) as client:

        async def healthy() -> bool:
            try:
                return (await client.get("/api/health")).status_code == 200
            except httpx.HTTPError:
                assert alive(), log.read_text()[-3000:]
                return False

        await eventually(healthy, timeout, interval=0.02, what="BaluPi answering /api/health")


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
        process = self._process
        await wait_healthy(self.url, lambda: process.poll() is None, self._log, timeout)

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
