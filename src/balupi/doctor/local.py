"""Checks of this Pi alone: configuration, data path, disk, database, backups."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from balupi.clock import SystemClock
from balupi.db.migrate import current_revision, head_revision
from balupi.doctor.base import DoctorBase
from balupi.doctor.findings import Finding, Parts, Status
from balupi.doctor.helpers import (
    age_of,
    current_user,
    database_file,
    duration_text,
    first_line,
    is_loopback_host,
    size_text,
)
from balupi.doctor.host import (
    mount_of,
    open_to_others,
)
from balupi.services.backup import (
    BackupError,
    DatabaseBackups,
    known_revision,
)

MIN_FREE_BYTES = 1024**3
LOW_FREE_FRACTION = 0.10
BACKUP_MAX_AGE = timedelta(hours=48)
BACKUP_FAILED_HINT = "look for 'nightly database backup failed' in journalctl -u balupi"
DEFAULT_ENV_FILE = Path("/etc/balupi/balupi.env")
# Filesystems that lose data at reboot, or lack the locking and fsync SQLite relies on.
VOLATILE_FS = frozenset({"tmpfs", "ramfs"})
WEAK_FS = frozenset({"vfat", "msdos", "exfat", "ntfs", "ntfs3", "fuseblk"})
NETWORK_FS = frozenset({"nfs", "nfs4", "cifs", "smb3", "sshfs", "fuse.sshfs"})


class LocalChecks(DoctorBase):
    """``config``, ``data``, ``disk``, ``database`` and ``backups``."""

    # -- configuration ------------------------------------------------------------------------
    def check_config(self) -> list[Finding]:
        settings = self.settings
        parts = Parts("config")
        for problem in self.problems:
            parts.add(Status.FAIL, problem, "correct it in /etc/balupi/balupi.env")
        if not self.problems:
            if settings.is_production:
                parts.add(Status.OK, "production mode, SECRET_KEY set")
            elif is_loopback_host(settings.host):
                parts.add(Status.OK, f"development mode, listening on {settings.host} only")
            else:
                parts.add(
                    Status.WARN,
                    f"development mode while serving the network (HOST={settings.host})",
                    "set BALUPI_ENV=production (and a SECRET_KEY) in /etc/balupi/balupi.env",
                )
        env_file = Path(os.environ.get("BALUPI_ENV_FILE", str(DEFAULT_ENV_FILE)))
        with contextlib.suppress(OSError):  # absent, or not ours to see: nothing to say
            mode = env_file.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                parts.add(
                    Status.FAIL,
                    f"{env_file} is readable by others (mode {stat.S_IMODE(mode):04o}); "
                    "it holds the secrets",
                    f"chmod 0600 {env_file}",
                )
        return [parts.finding()]

    # -- data path ----------------------------------------------------------------------------
    def check_data(self) -> list[Finding]:
        directory = self.settings.data_dir.resolve()
        create = f"sudo install -d -o balupi -g balupi -m 0750 {directory}"
        if not directory.is_dir():
            return [Finding("data", Status.FAIL, f"{directory} does not exist", create)]
        probe = directory / f".doctor-probe-{os.getpid()}"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            return [
                Finding(
                    "data",
                    Status.FAIL,
                    f"{directory} is not writable for {current_user()} ({exc.strerror or exc})",
                    unwritable_hint(directory, exc),
                )
            ]
        mode = stat.S_IMODE(directory.stat().st_mode)
        if open_to_others(directory):
            return [
                Finding(
                    "data",
                    Status.WARN,
                    f"{directory} is writable, but open to other users (mode {mode:04o})",
                    f"sudo chmod 0750 {directory}",
                )
            ]
        return [Finding("data", Status.OK, f"{directory} is writable (mode {mode:04o})")]

    def check_disk(self) -> list[Finding]:
        directory = self.settings.data_dir.resolve()
        if not directory.is_dir():
            return [Finding("disk", Status.SKIP, "no data directory to look at")]
        parts = Parts("disk")
        usage = os.statvfs(directory)
        free = usage.f_bavail * usage.f_frsize
        total = usage.f_blocks * usage.f_frsize
        space = f"{size_text(free)} free of {size_text(total)}"
        if free < MIN_FREE_BYTES:
            parts.add(Status.FAIL, space, "free space on the data disk (uploads wait there)")
        elif total and free / total < LOW_FREE_FRACTION:
            parts.add(Status.WARN, space, "free space on the data disk, or lower CACHE_MAX_BYTES")
        else:
            parts.add(Status.OK, space)
        cache = int(self.settings.cache_max_bytes)
        if cache > total:
            parts.add(
                Status.WARN,
                f"CACHE_MAX_BYTES ({size_text(cache)}) exceeds the disk",
                "set BALUPI_CACHE_MAX_BYTES to about half the disk",
            )
        mount = mount_of(directory)
        if mount is None:
            parts.add(Status.OK, "filesystem unknown")
        else:
            device, point, fstype = mount
            where = f"{fstype} on {device} (mounted at {point})"
            if fstype in VOLATILE_FS:
                parts.add(Status.FAIL, f"{where}: lost at every reboot", "mount the SSD there")
            elif fstype in WEAK_FS:
                parts.add(
                    Status.WARN,
                    f"{where}: no POSIX ownership, weak fsync for SQLite",
                    "format the SSD as ext4 (docs/deployment.md)",
                )
            elif fstype in NETWORK_FS:
                parts.add(
                    Status.WARN,
                    f"{where}: SQLite's locking is unsafe on network filesystems",
                    "put DATA_DIR on a local disk",
                )
            else:
                parts.add(Status.OK, where)
        return [parts.finding()]

    # -- database and backups -----------------------------------------------------------------
    async def check_database(self) -> list[Finding]:
        database = database_file(self.settings)
        if database is not None and not database.exists():
            return [Finding("database", Status.OK, f"none yet at {database} (made at first start)")]
        head = head_revision()
        try:
            current = await asyncio.to_thread(current_revision, self.settings.resolved_database_url)
        except (SQLAlchemyError, OSError) as exc:
            return [
                Finding(
                    "database",
                    Status.FAIL,
                    f"cannot read the database: {first_line(exc)}",
                    "restore the latest backup: sudo balupi db restore FILE",
                )
            ]
        where = f" at {database}" if database else ""
        if current == head:
            return [Finding("database", Status.OK, f"revision {current}{where}")]
        if current is None or known_revision(current):
            return [
                Finding(
                    "database",
                    Status.OK,
                    f"revision {current or 'none'}{where}; BaluPi migrates it to {head} at start",
                )
            ]
        return [
            Finding(
                "database",
                Status.FAIL,
                f"revision {current}{where} is newer than this BaluPi knows ({head})",
                "run the BaluPi that wrote it (deploy/update.sh), or restore an older backup",
            )
        ]

    def check_backups(self) -> list[Finding]:
        try:
            backups = DatabaseBackups.for_settings(self.settings, SystemClock())
        except BackupError as exc:
            return [Finding("backups", Status.SKIP, str(exc))]
        latest = backups.latest()
        when = f"{self.settings.backup_hour:02d}:15"
        if self.settings.backup_keep == 0:
            status = Status.WARN
            message = "nightly backups are off (BACKUP_KEEP=0)"
            return [Finding("backups", status, message, "set BALUPI_BACKUP_KEEP=7")]
        if latest is None:
            database = backups.database
            young = not database.exists() or age_of(database) < BACKUP_MAX_AGE
            if young:
                return [Finding("backups", Status.OK, f"none yet; the first runs at {when}")]
            return [
                Finding(
                    "backups",
                    Status.WARN,
                    f"no backup in {backups.directory}",
                    f"{BACKUP_FAILED_HINT}; sudo balupi db backup",
                )
            ]
        path, written = latest
        age = datetime.now(UTC) - written
        message = f"latest {path.name} ({duration_text(age)} ago), keeping {backups.keep}"
        if age > BACKUP_MAX_AGE:
            return [
                Finding(
                    "backups",
                    Status.WARN,
                    message,
                    BACKUP_FAILED_HINT,
                )
            ]
        return [Finding("backups", Status.OK, message)]


def unwritable_hint(directory: Path, exc: OSError) -> str:
    """What fixes an unwritable data directory: owners and modes cannot fix a read-only mount,
    a full disk or a missing directory."""
    if exc.errno == errno.EROFS:
        return (
            f"the file system of {directory} is mounted read-only: remount it read-write "
            "or set BALUPI_DATA_DIR to a directory on a writable disk"
        )
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"free space on the disk of {directory} (df -h {directory})"
    return f"sudo chown -R balupi:balupi {directory} && sudo chmod 0750 {directory}"
