"""The dashboard's browser tests: a running ``balupi demo``, its data, and headless Chromium.

The browser is Debian's ``chromium`` (``.ci/run`` installs it), driven by Playwright for Python
with ``executable_path``: Playwright's own browser download is never used. Where neither a build
of the dashboard nor Chromium is present the browser tests are skipped, except under CI, where
they fail: a green CI never hides them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from balupi.api.routes.web import DIST
from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"  # not committed (/build/ is ignored)
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN = ("admin", "admin-demo-pw")
PASSWORDS = {"admin": "admin-demo-pw", "alice": "alice-demo-pw"}  # balupi demo's logins
HISTORY_DAYS = 120  # enough for month charts and a year chart with a season in it
POLL_SECONDS = 5  # the demo's plugs, polled as fast as BaluPi allows
TOKEN_REUSE_SECONDS = 600  # NAS access tokens live 15 minutes


def require(what: str, present: bool) -> None:
    """Skip a browser test whose tools are missing; under CI, fail instead."""
    if present:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing (.ci/run installs it)")
    pytest.skip(f"{what} is missing")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Demo:
    """A running ``balupi demo`` and the ways a test reaches into its simulated home."""

    url: str
    control_url: str
    root: Path
    _logins: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)

    @property
    def nas_storage(self) -> Path:
        return self.root / "nas-storage"

    def login(self, username: str = ADMIN[0]) -> dict[str, Any]:
        """A login answer for ``username``, made once and reused.

        The NAS allows five logins a minute from one address, and every login through the Pi
        comes from the Pi's address: the demo's own start-up uses three of them. A 429 is waited
        out as its ``Retry-After`` says.
        """
        made = self._logins.get(username)
        if made is None or time.monotonic() - made[0] > TOKEN_REUSE_SECONDS:
            deadline = time.monotonic() + 75
            while True:
                answer = httpx.post(
                    f"{self.url}/api/auth/login",
                    json={"username": username, "password": PASSWORDS[username]},
                    timeout=30,
                )
                if answer.status_code != 429 or time.monotonic() > deadline:
                    break
                time.sleep(float(answer.headers.get("Retry-After", "5")))
            answer.raise_for_status()
            made = (time.monotonic(), answer.json())
            self._logins[username] = made
        return made[1]

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.login()['access_token']}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def nas_state(self) -> str:
        state: str = self.api("GET", "/api/nas/status").json()["state"]
        return state

    def wait_for_nas(self, *states: str, timeout: float = 45) -> None:
        deadline = time.monotonic() + timeout
        while (state := self.nas_state()) not in states:
            assert time.monotonic() < deadline, f"the NAS stayed {state}, not {states}"
            time.sleep(0.5)

    def put_nas_to_sleep(self) -> None:
        """Suspend the NAS emulator and wait until BaluPi believes it asleep (its plug says so)."""
        if self.nas_state() == "sleeping":
            return
        self.wait_for_nas("online")
        httpx.post(f"{self.control_url}/sleep", timeout=30).raise_for_status()
        self.wait_for_nas("sleeping")


def _clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BALUPI_")}


def _demo_process(root: Path, log: IO[str]) -> subprocess.Popen[str]:
    environment = _clean_environment()
    environment["BALUPI_ENERGY_POLL_SECONDS"] = str(POLL_SECONDS)
    command = ["demo", "--port", str(free_port()), "--data-dir", str(root)]
    command += ["--history-days", str(HISTORY_DAYS)]
    return subprocess.Popen(
        [sys.executable, "-m", "balupi", *command],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=environment,
    )


def _read_banner(process: subprocess.Popen[str], log: Path) -> tuple[str, str]:
    """BaluPi's and the NAS emulator's control URLs, from the demo's banner."""
    banner = ""
    deadline = time.monotonic() + 90
    assert process.stdout is not None
    while "Press Ctrl-C to stop." not in banner:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise RuntimeError(f"balupi demo stopped:\n{log.read_text()[-4000:]}")
        assert time.monotonic() < deadline, "balupi demo did not start in time"
        banner += line
    url = re.search(r"BaluPi\s+(http://[\d.:]+)", banner)
    control = re.search(r"control: (http://[\d.:]+)", banner)
    assert url, banner
    assert control, banner
    return url.group(1), control.group(1)


def _wait_for_history(log: Path) -> None:
    """``balupi demo --history-days`` fills months of plug readings in the background."""
    deadline = time.monotonic() + 240
    while "demo energy history filled" not in log.read_text():
        assert time.monotonic() < deadline, "the demo did not fill its energy history in time"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    """``balupi demo`` with plugs polled every 5 s and four months of energy history, the NAS
    link's included (the demo fills both); stopped with Ctrl-C (SIGINT) at the end."""
    require("the dashboard build (scripts/build-dashboard)", (DIST / "index.html").is_file())
    require("Debian's chromium", chromium_path() is not None)
    with tempfile.TemporaryDirectory(prefix="balupi-web-") as temporary:
        root = Path(temporary)
        log = root / "demo.log"
        with log.open("w") as log_file, _demo_process(root, log_file) as process:
            try:
                url, control_url = _read_banner(process, log)
                _wait_for_history(log)
                yield Demo(url=url, control_url=control_url, root=root)
            finally:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright (a fresh profile each launch)."""
    require("Debian's chromium", chromium_path() is not None)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
