"""Database backups: online, kept N deep, nightly; restores that refuse what they should.

The restore test walks the disaster an admin fears: the SSD is replaced, the last backup is
restored onto the empty one with ``balupi db restore``, and BaluPi starts on it and shows the
NAS state it knew before.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from balupi.app import create_app
from balupi.clock import ManualClock
from balupi.config import Settings
from balupi.db.migrate import head_revision, upgrade_to_head
from balupi.db.models import NasState
from balupi.schedule import At
from balupi.services.backup import (
    NIGHTLY_JOB,
    DatabaseBackups,
    DatabaseInUse,
    NotABaluPiDatabase,
    ensure_not_in_use,
    restore_database,
    verify_restorable,
)
from tests.processes import clean_environment

BEFORE_THE_BACKUP = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
INSERT_SERVER = (
    "INSERT INTO servers (name, base_url, state, created_at, updated_at) "
    "VALUES (?, 'http://nas', 'unknown', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
)


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _database(tmp_path: Path) -> Path:
    path = tmp_path / "live.db"
    upgrade_to_head(_sqlite_url(path))
    return path


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def test_backups_are_online_consistent_single_files(tmp_path: Path) -> None:
    live = _database(tmp_path)
    with contextlib.closing(sqlite3.connect(live)) as writer:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute(INSERT_SERVER, ("committed",))
        writer.commit()
        writer.execute(INSERT_SERVER, ("uncommitted",))
        # The writer holds its transaction open while the backup runs: no waiting, and the
        # backup holds what was committed.
        backups = DatabaseBackups(live, tmp_path / "backups", 7, ManualClock())
        backup = backups.create()
        writer.rollback()
    assert [name for (name,) in _rows(backup, "SELECT name FROM servers")] == ["committed"]
    assert _rows(backup, "PRAGMA journal_mode") == [("delete",)]
    assert sorted(p.name for p in backup.parent.iterdir()) == [backup.name]  # no -wal, -shm
    assert backup.stat().st_mode & 0o777 == 0o600
    assert backup.parent.stat().st_mode & 0o777 == 0o700
    assert verify_restorable(backup) == head_revision()


def test_the_newest_n_are_kept(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 3, 1, 3, 15, tzinfo=UTC))
    backups = DatabaseBackups(_database(tmp_path), tmp_path / "backups", 3, clock)
    made = []
    for _ in range(5):
        made.append(backups.create())
        clock.advance(86400)
    made.append(backups.create())
    made.append(backups.create())  # two in one second: both kept, in order
    assert backups.existing() == made[-3:]
    assert made[-1].name == "balupi-20260306T031500Z_1.db"
    extra = backups.create(tmp_path / "by-hand.db")  # --to: outside the count
    assert extra.exists()
    assert backups.existing() == made[-3:]


async def test_the_nightly_job_runs_at_backup_hour_and_is_off_with_keep_0(
    settings: Settings,
) -> None:
    nightly = settings.model_copy(update={"backup_hour": 4, "backup_keep": 2})
    app = create_app(nightly)
    async with app.router.lifespan_context(app):
        job = app.state.services.scheduler.get_job(NIGHTLY_JOB)
        assert job is not None
        assert job.timing == At(minute=15, hour=4)
        for _ in range(3):
            await job.func()
        backups = sorted((settings.data_dir / "backups").iterdir())
        assert len(backups) == 2
        assert verify_restorable(backups[-1]) == head_revision()

    off = create_app(settings.model_copy(update={"backup_keep": 0}))
    async with off.router.lifespan_context(off):
        assert off.state.services.scheduler.get_job(NIGHTLY_JOB) is None


def test_restore_refuses_other_files_and_newer_databases(tmp_path: Path) -> None:
    target = tmp_path / "restored.db"
    clock = ManualClock()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    plain = tmp_path / "plain.db"
    with contextlib.closing(sqlite3.connect(plain)) as db:
        db.execute("CREATE TABLE notes (text)")
    newer = _database(tmp_path)
    with contextlib.closing(sqlite3.connect(newer)) as db, db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    for backup, reason in (
        (junk, "not a SQLite database"),
        (plain, "no BaluPi database"),
        (newer, "made by a newer BaluPi"),
    ):
        with pytest.raises(NotABaluPiDatabase, match=reason):
            restore_database(backup, target, clock)
        assert not target.exists()
        assert list(tmp_path.glob("restored*")) == []


def _balupi(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "balupi", *args],
        capture_output=True,
        text=True,
        env=clean_environment(BALUPI_DATA_DIR=str(data_dir), BALUPI_MDNS_ENABLED="false"),
        timeout=60,
        check=False,
    )


async def test_backup_while_running_then_restore_onto_a_new_disk_and_start_on_it(
    settings: Settings, tmp_path: Path, admin_headers: dict[str, str]
) -> None:
    live = settings.data_dir / "balupi.db"
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        link = app.state.services.nas_link
        await link.history.record(BEFORE_THE_BACKUP, NasState.UNKNOWN, NasState.SLEEPING, "test")
        backup = _balupi(settings.data_dir, "db", "backup")  # online: the service runs
        assert backup.returncode == 0, backup.stderr
        (made,) = (settings.data_dir / "backups").glob("balupi-*.db")
        assert f"backed up to {made}" in backup.stdout

        refused = _balupi(settings.data_dir, "db", "restore", str(made))
        assert refused.returncode == 1
        assert "in use" in refused.stderr
        with pytest.raises(DatabaseInUse):
            ensure_not_in_use(live)
        await link.history.record(
            BEFORE_THE_BACKUP + timedelta(days=1), NasState.SLEEPING, NasState.ONLINE, "later"
        )

    new_disk = tmp_path / "new-ssd"
    restored = _balupi(new_disk, "db", "restore", str(made))
    assert restored.returncode == 0, restored.stderr
    assert f"(revision {head_revision()})" in restored.stdout

    # The service starts on the restored database and knows what it knew at the backup.
    on_new_disk = settings.model_copy(update={"data_dir": new_disk})
    app = create_app(on_new_disk)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pi") as client:
            status = (await client.get("/api/nas/status", headers=admin_headers)).json()
    assert status["state"] == "sleeping"
    assert status["since"] == "2026-01-01T12:00:00Z"

    # Restoring over an existing database keeps the replaced one aside.
    again = _balupi(new_disk, "db", "restore", str(made))
    assert again.returncode == 0, again.stderr
    (kept,) = new_disk.glob("balupi.db.replaced-*[0-9]Z")
    assert f"kept as {kept}" in again.stdout
