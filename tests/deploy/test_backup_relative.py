"""``balupi db backup`` with the default relative data directory and a relative ``--to``
(issue 13: both ended in ``ValueError: relative path can't be expressed as a file URI``)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from balupi.db.migrate import upgrade_to_head
from tests.processes import clean_environment


def _balupi(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "balupi", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_environment(BALUPI_DATA_DIR="data", BALUPI_MDNS_ENABLED="false"),
    )


def test_backups_work_with_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    upgrade_to_head(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'balupi.db'}")

    into_directory = _balupi(tmp_path, "db", "backup")
    to_file = _balupi(tmp_path, "db", "backup", "--to", "x.db")

    for done in (into_directory, to_file):
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    with sqlite3.connect(tmp_path / "x.db") as copy:
        assert copy.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    assert list((tmp_path / "data" / "backups").glob("*.db"))
