"""A busy port is one line naming ``--port``, not six tracebacks (issue 13)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import clean_environment


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_busy_port_is_one_line_naming_the_option(
    command: str, busy_port: int, tmp_path: Path
) -> None:
    args = [command, "--host", "127.0.0.1", "--port", str(busy_port)]
    if command == "demo":
        args += ["--data-dir", str(tmp_path / "demo")]
    done = subprocess.run(
        [sys.executable, "-m", "balupi", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_environment(BALUPI_DATA_DIR=str(tmp_path / "data"), BALUPI_MDNS_ENABLED="false"),
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"port {busy_port}" in lines[0]
    assert "--port" in lines[0]
