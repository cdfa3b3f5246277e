"""Backups of BaluPi's SQLite database: online, nightly, kept N deep, and restorable.

A backup is taken with SQLite's online backup API (``sqlite3.Connection.backup``), never by
copying the file: a copy taken while the service writes can tear a page or miss the WAL, the
backup API reads one consistent snapshot. In WAL mode it copies in one step, inside one read
transaction, so the service's writers are never blocked. Each backup is a self-contained file
(``journal_mode=DELETE``, no ``-wal`` beside it), checked with ``quick_check``, written under a
temporary name, fsynced and renamed, so a power cut leaves either the whole backup or none.

Backups live in ``DATA_DIR/backups`` (mode 0700, files 0600: they hold password hashes and token
digests) as ``balupi-<UTC time>.db``; the nightly job keeps the newest ``BACKUP_KEEP``. They sit on
the same disk as the database, so they protect against a bad migration, a bug or an operator
mistake, not against the disk dying: copy them elsewhere for that (docs/deployment.md).

Restoring (``balupi db restore FILE``) refuses while anything holds the database open, copies the
backup beside the database, proves the copy is a BaluPi database this code can run (integrity
check and a known Alembic revision), keeps the replaced database aside and swaps the files.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import anyio
from sqlalchemy import make_url

from balupi.clock import Clock
from balupi.config import Settings
from balupi.db.engine import is_sqlite
from balupi.db.migrate import MIGRATIONS_DIR, head_revision
from balupi.durable import fsync_path
from balupi.errors import BaluPiError
from balupi.logs import get_logger
from balupi.schedule import Scheduler

log = get_logger(__name__)

BACKUP_DIRNAME = "backups"
BACKUP_PREFIX = "balupi-"
BACKUP_SUFFIX = ".db"
PARTIAL_SUFFIX = ".partial"
NIGHTLY_JOB = "database_backup"
NIGHTLY_MINUTE = 15  # BACKUP_HOUR:15, clear of the energy roll-up at :05
STALE_PARTIAL_SECONDS = 24 * 3600
# The journals SQLite keeps next to a database; they belong to its name.
_JOURNALS = ("-wal", "-journal")


class BackupError(BaluPiError):
    """A backup or restore could not be done; the message says why and what to do.

    The command line's error, so no HTTP status: one that reached a client would be a plain 500.
    """

    code = "backup_error"


class DatabaseInUse(BackupError):
    """The database is open in another process (the service, most likely)."""

    code = "database_in_use"


class NotABaluPiDatabase(BackupError):
    """The file is damaged, not SQLite, or not a database this BaluPi can run."""

    code = "not_a_balupi_database"


def sqlite_path(database_url: str) -> Path:
    """The file behind a SQLite URL; ``BackupError`` for anything else (nothing to copy)."""
    url = make_url(database_url)
    if not is_sqlite(url) or url.database in (None, "", ":memory:"):
        raise BackupError("backups cover a SQLite database file only (BALUPI_DATABASE_URL)")
    return Path(url.database).resolve()


def online_backup(source: Path, target: Path) -> None:
    """Copy the database at ``source`` into the new file ``target`` with the backup API.

    The copy is made under a temporary name and renamed when it is complete and checked, so
    ``target`` never exists half-written.
    """
    if not source.exists():
        raise BackupError(f"there is no database at {source} to back up")
    partial = target.with_name(f".{target.name}.{os.getpid()}{PARTIAL_SUFFIX}")
    try:
        # Read-only: a backup must never change the live database (not even a checkpoint).
        with contextlib.closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)) as src:
            src.execute("PRAGMA busy_timeout=5000")
            _copy_into(src, partial)
        _check(partial, quick=True)
        partial.chmod(0o600)
        fsync_path(partial)
        partial.rename(target)
        fsync_path(target.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"backing up {source} failed: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)


def _copy_into(source: sqlite3.Connection, path: Path) -> None:
    """Run the backup API from ``source`` into a new self-contained file at ``path``."""
    with contextlib.closing(sqlite3.connect(path)) as destination:
        source.backup(destination)  # all pages in one step: one consistent snapshot
        # The copy inherits WAL mode from the page header; a backup must be one file.
        destination.execute("PRAGMA journal_mode=DELETE")


def _check(path: Path, *, quick: bool) -> str | None:
    """Raise ``NotABaluPiDatabase`` unless ``path`` passes SQLite's check; its Alembic revision."""
    pragma = "quick_check" if quick else "integrity_check"
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            verdict = [row[0] for row in db.execute(f"PRAGMA {pragma}")]
            if verdict != ["ok"]:
                raise NotABaluPiDatabase(f"{path} is damaged: {'; '.join(verdict[:3])}")
            try:
                row = db.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.OperationalError:
                return None
    except sqlite3.DatabaseError as exc:  # "file is not a database" and kin
        raise NotABaluPiDatabase(f"{path} is not a SQLite database ({exc})") from exc
    return str(row[0]) if row else None


def verify_restorable(path: Path) -> str:
    """The Alembic revision of the BaluPi database at ``path``, or ``NotABaluPiDatabase``.

    A database from an older BaluPi is fine (the service migrates it at start); one from a
    newer BaluPi is not, since this code would not know its schema.
    """
    revision = _check(path, quick=False)
    if revision is None:
        raise NotABaluPiDatabase(f"{path} is no BaluPi database (it has no migration revision)")
    if not known_revision(revision):
        raise NotABaluPiDatabase(
            f"{path} is at revision {revision}, which this BaluPi does not know (head is "
            f"{head_revision()}): it was made by a newer BaluPi; restore it with that version"
        )
    return revision


def known_revision(revision: str) -> bool:
    """Whether this BaluPi's migrations include ``revision`` (False: a newer BaluPi wrote it)."""
    from alembic.script import ScriptDirectory  # here: restores are rare, every start is not
    from alembic.util import CommandError

    try:
        return ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(revision) is not None
    except CommandError:
        return False


def ensure_not_in_use(database: Path) -> None:
    """Raise ``DatabaseInUse`` if any other connection holds ``database`` open.

    In WAL mode every open connection keeps a shared lock on the WAL index, even when idle, so
    taking the database in exclusive locking mode succeeds only when nobody else has it open.
    Closing that connection also checkpoints the WAL into the file and removes it.
    """
    if not database.exists():
        return
    try:
        with contextlib.closing(
            sqlite3.connect(database, timeout=0, isolation_level=None)
        ) as probe:
            probe.execute("PRAGMA locking_mode=EXCLUSIVE")
            probe.execute("BEGIN EXCLUSIVE")
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
            probe.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise DatabaseInUse(
                f"the database {database} is in use (is BaluPi running? stop it first: "
                "systemctl stop balupi)"
            ) from exc
        raise BackupError(f"cannot open {database}: {exc}") from exc


@dataclass(frozen=True)
class Restored:
    database: Path
    revision: str
    kept: list[Path]  # the replaced database and its sidecar files, moved aside


def restore_database(backup: Path, database: Path, clock: Clock) -> Restored:
    """Replace ``database`` with the backup at ``backup``; the old files are kept aside."""
    if not backup.is_file():
        raise BackupError(f"there is no backup file at {backup}")
    ensure_not_in_use(database)
    staged = database.with_name(f"{database.name}.restoring")
    staged.unlink(missing_ok=True)
    try:
        # immutable=1: read the backup exactly as it is, creating no -shm or -wal beside it.
        with contextlib.closing(
            sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        ) as src:
            _copy_into(src, staged)
        revision = verify_restorable(staged)
        staged.chmod(0o600)
        fsync_path(staged)
        kept = _move_aside(database, clock)
        staged.rename(database)
        fsync_path(database.parent)
    except sqlite3.DatabaseError as exc:
        raise NotABaluPiDatabase(f"{backup} is not a SQLite database ({exc})") from exc
    finally:
        staged.unlink(missing_ok=True)
    log.info(
        "database restored", backup=str(backup), revision=revision, kept=[str(k) for k in kept]
    )
    return Restored(database, revision, kept)


def _move_aside(database: Path, clock: Clock) -> list[Path]:
    """Rename the database and its journals to ``<name>.replaced-<time>[-wal]``.

    The ``-shm`` index is only a cache of the WAL's contents, rebuilt on open: it is removed.
    """
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    database.with_name(database.name + "-shm").unlink(missing_ok=True)
    kept = []
    for suffix in ("", *_JOURNALS):
        current = database.with_name(database.name + suffix)
        if current.exists():
            aside = database.with_name(f"{database.name}.replaced-{stamp}{suffix}")
            current.rename(aside)
            kept.append(aside)
    return kept


class DatabaseBackups:
    """The backups directory of one database: create, list, prune, and the nightly job."""

    def __init__(self, database: Path, directory: Path, keep: int, clock: Clock) -> None:
        self.database = database
        self.directory = directory
        self.keep = keep
        self._clock = clock

    @classmethod
    def for_settings(cls, settings: Settings, clock: Clock) -> DatabaseBackups:
        return cls(
            sqlite_path(settings.resolved_database_url),
            settings.data_dir / BACKUP_DIRNAME,
            settings.backup_keep,
            clock,
        )

    def existing(self) -> list[Path]:
        """The backups, oldest first (their names sort by time)."""
        if not self.directory.is_dir():
            return []
        return sorted(
            p for p in self.directory.glob(f"{BACKUP_PREFIX}*{BACKUP_SUFFIX}") if p.is_file()
        )

    def create(self, target: Path | None = None) -> Path:
        """Take a backup now (blocking: call it in a thread from async code); its path.

        Without ``target`` it goes into the backups directory and the oldest beyond ``keep`` are
        removed; an explicit ``target`` (``balupi db backup --to``) is left out of the count.
        """
        if target is None or target.parent.resolve() == self.directory.resolve():
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if target is None:
            target = self._new_name()
        elif target.exists():
            raise BackupError(f"{target} exists already; name a new file")
        elif not target.parent.is_dir():
            raise BackupError(f"{target.parent} is no directory")
        # Absolute: SQLite opens the files by URI, and a relative path has none (the default
        # relative DATA_DIR, or ``--to x.db``).
        target = target.resolve()
        online_backup(self.database.resolve(), target)
        log.info("database backed up", path=str(target))
        if target.parent == self.directory.resolve():
            self.prune()
        return target

    def _new_name(self) -> Path:
        stamp = self._clock.now().strftime("%Y%m%dT%H%M%SZ")
        target = self.directory / f"{BACKUP_PREFIX}{stamp}{BACKUP_SUFFIX}"
        counter = 1
        while target.exists():  # two in one second: "_1" sorts after the plain name
            target = self.directory / f"{BACKUP_PREFIX}{stamp}_{counter}{BACKUP_SUFFIX}"
            counter += 1
        return target

    def prune(self) -> list[Path]:
        """Remove all but the newest ``keep`` backups (none with ``keep`` 0) and stale leftovers."""
        removed = []
        backups = self.existing()
        if self.keep > 0:
            for old in backups[: max(len(backups) - self.keep, 0)]:
                old.unlink(missing_ok=True)
                removed.append(old)
        # A backup killed halfway leaves its partial file; a running one is younger than a day.
        cutoff = time.time() - STALE_PARTIAL_SECONDS
        for partial in self.directory.glob(f".*{PARTIAL_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                if partial.stat().st_mtime < cutoff:
                    partial.unlink()
                    removed.append(partial)
        return removed

    def latest(self) -> tuple[Path, datetime] | None:
        """The newest backup and when it was written, or None."""
        backups = self.existing()
        if not backups:
            return None
        newest = backups[-1]
        return newest, datetime.fromtimestamp(newest.stat().st_mtime).astimezone()

    async def nightly(self) -> None:
        """The scheduler job: one backup off the event loop; failures are logged, not raised."""
        try:
            await anyio.to_thread.run_sync(self.create)
        except (BackupError, OSError) as exc:
            log.error("nightly database backup failed", error=str(exc))

    def schedule(self, scheduler: Scheduler, hour: int) -> None:
        """Run ``nightly`` at ``hour``:15 in the scheduler's time zone; nothing if ``keep`` is 0."""
        if self.keep <= 0:
            log.info("nightly database backups are off (BALUPI_BACKUP_KEEP=0)")
            return
        scheduler.daily(hour, NIGHTLY_MINUTE, self.nightly, name=NIGHTLY_JOB)


def schedule_backups(scheduler: Scheduler, settings: Settings, clock: Clock) -> None:
    """Add the nightly backup to the app's scheduler (SQLite only; other databases have their
    own tools)."""
    try:
        backups = DatabaseBackups.for_settings(settings, clock)
    except BackupError as exc:
        log.warning("no nightly database backups", reason=str(exc))
        return
    backups.schedule(scheduler, settings.backup_hour)
