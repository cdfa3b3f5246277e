"""BaluPi speaks systemd's notify protocol: READY once serving, WATCHDOG from the event loop.

The end-to-end test plays systemd: it binds the ``NOTIFY_SOCKET`` datagram socket, starts a real
``balupi serve`` with ``WATCHDOG_USEC``, and reads what arrives. To block the event loop it starts
the service through a launcher that adds a SIGUSR1 handler sleeping in the main thread (the
loop's thread); nothing of that is in BaluPi itself.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from balupi.services.watchdog import SystemdNotifier, Watchdog, watchdog_interval
from tests.processes import clean_environment, free_port

PING_SECONDS = 0.2  # WATCHDOG_USEC / 2
BLOCK_SECONDS = 2.0
LAUNCHER = """
import signal, sys, time
# Test hook: SIGUSR1 blocks the event loop's thread, as a stuck blocking call in BaluPi would.
signal.signal(signal.SIGUSR1, lambda *_: time.sleep(float(sys.argv[1])))
from balupi.cli import main
sys.exit(main(["serve"]))
"""


class NotifySocket:
    """systemd's end of the protocol: a datagram socket that records each message's arrival."""

    def __init__(self, address: str, sock: socket.socket) -> None:
        self.address = address
        self._sock = sock
        self.messages: list[tuple[float, str]] = []

    def receive(self, timeout: float) -> str | None:
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(4096).decode()
        except TimeoutError:
            return None
        self.messages.append((time.monotonic(), data))
        return data

    def wait_for(self, assignment: str, timeout: float) -> float:
        """Receive until a message holds ``assignment``; when it arrived."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            message = self.receive(remaining)
            if message is not None and assignment in message.splitlines():
                return self.messages[-1][0]
        pytest.fail(f"no {assignment} within {timeout} s; got {self.messages}")

    def pings(self) -> list[float]:
        return [at for at, message in self.messages if message == "WATCHDOG=1"]


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NotifySocket]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        if request.param == "abstract":
            name = f"balupi-test-{uuid.uuid4().hex}"
            sock.bind(b"\0" + name.encode())
            yield NotifySocket(f"@{name}", sock)
        else:
            path = tmp_path / "notify.sock"
            sock.bind(str(path))
            yield NotifySocket(str(path), sock)


def test_notifier_sends_to_path_and_abstract_sockets(notify_socket: NotifySocket) -> None:
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": notify_socket.address})
    assert notifier.ready("serving")
    assert notify_socket.receive(1) == "READY=1\nSTATUS=serving"


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = SystemdNotifier.from_environment({})
    assert not notifier.enabled
    assert not notifier.notify("READY=1")
    assert Watchdog.from_environment({"WATCHDOG_USEC": "1000000"}).interval is None


def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process_only() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "60000000"}) == 30.0
    mine = {"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval(mine) == 30.0
    # Inherited from a parent: not ours to feed.
    assert watchdog_interval({**mine, "WATCHDOG_PID": str(os.getpid() + 1)}) is None
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None


def test_a_lost_socket_is_reported_but_never_raises(tmp_path: Path) -> None:
    notifier = SystemdNotifier(str(tmp_path / "gone.sock"))
    assert not notifier.notify("WATCHDOG=1")


@pytest.mark.parametrize("notify_socket", ["abstract"], indirect=True)
def test_serve_is_ready_when_serving_pings_from_its_loop_and_says_stopping(
    notify_socket: NotifySocket, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path / "data"
    environment = clean_environment(
        NOTIFY_SOCKET=notify_socket.address,
        WATCHDOG_USEC=str(int(PING_SECONDS * 2 * 1_000_000)),
        BALUPI_ENV="production",
        BALUPI_SECRET_KEY="watchdog-test-secret-0123456789abcdefghijklmnop",
        BALUPI_DATA_DIR=str(data),
        BALUPI_PORT=str(port),
        BALUPI_MDNS_ENABLED="false",
    )
    stderr = tmp_path / "stderr.log"
    with stderr.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(BLOCK_SECONDS)], env=environment, stderr=sink
        )
    try:
        notify_socket.wait_for("READY=1", timeout=60)
        # READY means serving: the first request after it is answered.
        assert httpx.get(f"{url}/api/health", timeout=5).status_code == 200
        while len(notify_socket.pings()) < 4:
            assert notify_socket.receive(5) is not None, "the watchdog pings stopped"

        # Block the loop: the pings stop for as long as it is blocked, then come back.
        process.send_signal(signal.SIGUSR1)
        blocked_at = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            httpx.get(f"{url}/api/health", timeout=BLOCK_SECONDS / 2)
        count = len(notify_socket.pings())
        while len(notify_socket.pings()) < count + 2:
            assert notify_socket.receive(BLOCK_SECONDS + 5) is not None, "no pings after block"
        pings = notify_socket.pings()
        gaps = [(later - earlier, later) for earlier, later in itertools.pairwise(pings)]
        before_block = [gap for gap, at in gaps if at < blocked_at]
        assert max(before_block) < BLOCK_SECONDS / 2  # regular pings while the loop runs
        assert max(gap for gap, _ in gaps) >= BLOCK_SECONDS * 0.8  # none while it was blocked

        process.send_signal(signal.SIGTERM)
        notify_socket.wait_for("STOPPING=1", timeout=30)
        # Uvicorn ends by re-raising SIGTERM, which systemd counts as a clean exit.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # Production logs are JSON lines on stderr (the journal), and no log file is written.
    lines = [line for line in stderr.read_text().splitlines() if line.strip()]
    assert lines
    assert all(isinstance(json.loads(line), dict) for line in lines)
    assert not any((data / "logs").iterdir())
