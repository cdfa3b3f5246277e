"""``balupi demo`` as a newcomer runs it: it starts, says where it is, answers, stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.processes import free_port


def test_demo_serves_health_on_the_printed_port_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BALUPI_")}
    log_file = (tmp_path / "demo.log").open("w")
    with (
        log_file,
        subprocess.Popen(
            [sys.executable, "-m", "balupi", "demo", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            env=environment,
        ) as process,
    ):
        _exercise_demo(process, port, tmp_path / "demo.log")


def _exercise_demo(process: subprocess.Popen[str], port: int, log_path: Path) -> None:
    try:
        banner = ""
        deadline = time.monotonic() + 60
        assert process.stdout is not None
        while "Press Ctrl-C to stop." not in banner:
            assert time.monotonic() < deadline, "demo did not start in time"
            line = process.stdout.readline()
            assert line or process.poll() is None, log_path.read_text()
            banner += line
        assert f"http://127.0.0.1:{port}" in banner
        assert "alice" in banner

        health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
