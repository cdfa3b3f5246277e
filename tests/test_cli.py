"""The command line, run as a user would: in a subprocess, reading what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_balupi(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BALUPI_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "balupi", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )


def test_help_lists_the_commands() -> None:
    result = run_balupi("--help")
    assert result.returncode == 0
    for command in ("serve", "demo", "sim", "db"):
        assert command in result.stdout


def test_sim_help_lists_the_nas_emulator() -> None:
    result = run_balupi("sim", "--help")
    assert result.returncode == 0
    assert "nas" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BALUPI_ENV": "production"}, "BALUPI_SECRET_KEY: is required in production"),
        (
            {"BALUPI_ENV": "production", "BALUPI_SECRET_KEY": "short"},
            "BALUPI_SECRET_KEY: must be at least 32 characters",
        ),
    ],
)
def test_production_start_without_a_proper_secret_fails_in_one_line(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = run_balupi("serve", env={**env, "BALUPI_DATA_DIR": str(tmp_path)})

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_unwritable_data_dir_fails_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    env = {
        "BALUPI_ENV": "production",
        "BALUPI_SECRET_KEY": "k" * 40,
        "BALUPI_DATA_DIR": str(blocker / "data"),
    }
    result = run_balupi("serve", env=env)

    assert result.returncode == 2
    assert result.stderr.strip().startswith("balupi: configuration error: BALUPI_DATA_DIR:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_db_upgrade_brings_a_new_database_to_head(tmp_path: Path) -> None:
    result = run_balupi("db", "upgrade", env={"BALUPI_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "balupi.db").exists()

    current = run_balupi("db", "current", env={"BALUPI_DATA_DIR": str(tmp_path)})
    revision = current.stdout.split("current: ")[1].split(";")[0]
    assert current.stdout.strip().endswith(f"head: {revision}")
