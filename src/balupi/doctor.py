"""``balupi doctor``: one line per check of a BaluPi installation, with what to do about it.

BaluPi runs for years on a Pi nobody looks at; when something is off, the doctor says what and
where in one screen: the configuration, the data path and its disk, the database and its
backups, the NAS (reachable, its API version, whether the token secret matches, the handshake
secret), Wake-on-LAN, every plug, mDNS and the clock. Each line is ``ok``, ``warn``, ``FAIL`` or
``skip`` (with the reason the check cannot apply); the exit status is 1 if any check failed.

Running the doctor is an explicit admin action, so it contacts the NAS (``GET /api/health``, and
a login with ``--nas-user``) although a request can wake a soft-sleeping NAS; it says so in its
first line, and ``--no-nas`` leaves the NAS alone. It changes nothing: it reads the database, it
writes one probe file into ``DATA_DIR`` and removes it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import enum
import errno
import getpass
import inspect
import ipaddress
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
from sqlalchemy.exc import SQLAlchemyError
from zeroconf.asyncio import AsyncZeroconf

from balupi import __version__
from balupi.clock import SystemClock
from balupi.config import ConfigError, Settings, load_settings_reporting
from balupi.db.engine import create_engine, create_sessionmaker
from balupi.db.migrate import current_revision, head_revision
from balupi.errors import NasUnreachable, PlugAuthFailed, PlugError
from balupi.logs import configure_logging
from balupi.services.auth.tokens import InvalidToken, TokenSigner
from balupi.services.backup import (
    BackupError,
    DatabaseBackups,
    known_revision,
    sqlite_path,
)
from balupi.services.nas.client import NasClient
from balupi.services.nas.discovery import mdns_interfaces
from balupi.services.nas.notices import MIN_SECRET_LENGTH
from balupi.services.tapo.client import PlugConnector, within
from balupi.services.tapo.devices import PlugRecord, PlugStore

NAS_API_VERSION = 1  # the BaluHost API version this BaluPi speaks (docs/compat/nas-api.md §0)
MIN_FREE_BYTES = 1024**3
LOW_FREE_FRACTION = 0.10
BACKUP_MAX_AGE = timedelta(hours=48)
CLOCK_SKEW_WARN_S = 5.0
CLOCK_SKEW_FAIL_S = 60.0  # beyond this the NAS's signed notices fall out of their replay window
DEFAULT_ENV_FILE = Path("/etc/balupi/balupi.env")
# Filesystems that lose data at reboot, or lack the locking and fsync SQLite relies on.
VOLATILE_FS = frozenset({"tmpfs", "ramfs"})
WEAK_FS = frozenset({"vfat", "msdos", "exfat", "ntfs", "ntfs3", "fuseblk"})
NETWORK_FS = frozenset({"nfs", "nfs4", "cifs", "smb3", "sshfs", "fuse.sshfs"})
STA_UNSYNC = 0x0040  # adjtimex(2): the kernel clock is not synchronised
TIME_ERROR = 5


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


_SEVERITY = {Status.SKIP: 0, Status.OK: 1, Status.WARN: 2, Status.FAIL: 3}


@dataclass(frozen=True)
class Finding:
    """The outcome of one check: what was found, and what to do if it is not ``ok``."""

    check: str
    status: Status
    message: str
    fix: str | None = None

    def line(self) -> str:
        text = f"{self.status.value:<5} {self.check:<10} {self.message}"
        return f"{text}\n{'':16}→ {self.fix}" if self.fix else text


@dataclass
class _Parts:
    """Findings of one check that has several parts; the worst part decides its status."""

    check: str
    status: Status = Status.OK
    messages: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    def add(self, status: Status, message: str, fix: str | None = None) -> None:
        if _SEVERITY[status] > _SEVERITY[self.status]:
            self.status = status
        self.messages.append(message)
        if fix:
            self.fixes.append(fix)

    def finding(self) -> Finding:
        return Finding(self.check, self.status, "; ".join(self.messages), "; ".join(self.fixes))


@dataclass(frozen=True)
class DoctorOptions:
    nas_user: str | None = None
    nas_password: str | None = None
    contact_nas: bool = True
    timeout: float = 5.0


class Doctor:
    """Runs the checks in order; later checks reuse what earlier ones learnt (the NAS's answer)."""

    def __init__(self, settings: Settings, problems: list[str], options: DoctorOptions) -> None:
        self.settings = settings
        self.problems = problems
        self.options = options
        self._health: httpx.Response | None = None
        self._health_received: datetime | None = None
        self._nas_token: str | None = None
        self._nas_error: str | None = None
        self._login_throttled = False

    def _checks(self) -> list[Callable[[], list[Finding] | Awaitable[list[Finding]]]]:
        return [
            self.check_config,
            self.check_data,
            self.check_disk,
            self.check_database,
            self.check_backups,
            self.check_nas,
            self.check_token_secret,
            self.check_handshake,
            self.check_wake_on_lan,
            self.check_plugs,
            self.check_mdns,
            self.check_clock,
        ]

    async def run(self) -> list[Finding]:
        findings: list[Finding] = []
        for check in self._checks():  # in order: later checks use what earlier ones learnt
            result = check()
            findings.extend(await result if inspect.isawaitable(result) else result)
        return findings

    def _problem(self, variable: str) -> str | None:
        """The configuration problem naming ``BALUPI_<variable>``, if there is one."""
        prefix = f"BALUPI_{variable.upper()}:"
        return next((p for p in self.problems if p.startswith(prefix)), None)

    # -- configuration ------------------------------------------------------------------------
    def check_config(self) -> list[Finding]:
        settings = self.settings
        parts = _Parts("config")
        for problem in self.problems:
            parts.add(Status.FAIL, problem, "correct it in /etc/balupi/balupi.env")
        if not self.problems:
            if settings.is_production:
                parts.add(Status.OK, "production mode, SECRET_KEY set")
            elif _is_loopback_host(settings.host):
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
                    f"{directory} is not writable for {_user()} ({exc.strerror or exc})",
                    _unwritable_hint(directory, exc),
                )
            ]
        mode = stat.S_IMODE(directory.stat().st_mode)
        if _open_to_others(directory):
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
        parts = _Parts("disk")
        usage = os.statvfs(directory)
        free = usage.f_bavail * usage.f_frsize
        total = usage.f_blocks * usage.f_frsize
        space = f"{_size(free)} free of {_size(total)}"
        if free < MIN_FREE_BYTES:
            parts.add(Status.FAIL, space, "free space on the data disk (uploads wait there)")
        elif total and free / total < LOW_FREE_FRACTION:
            parts.add(Status.WARN, space, "free space on the data disk, or lower CACHE_MAX_BYTES")
        else:
            parts.add(Status.OK, space)
        if int(self.settings.cache_max_bytes) > total:
            parts.add(
                Status.WARN,
                f"CACHE_MAX_BYTES ({_size(int(self.settings.cache_max_bytes))}) exceeds the disk",
                "set BALUPI_CACHE_MAX_BYTES to about half the disk",
            )
        mount = _mount_of(directory)
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
        database = _database_file(self.settings)
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
                    f"cannot read the database: {_first_line(exc)}",
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
            young = (
                not database.exists()
                or datetime.now(UTC).timestamp() - database.stat().st_mtime < 86400
                or _age(database) < BACKUP_MAX_AGE
            )
            if young:
                return [Finding("backups", Status.OK, f"none yet; the first runs at {when}")]
            return [
                Finding(
                    "backups",
                    Status.WARN,
                    f"no backup in {backups.directory}",
                    "look for 'nightly database backup failed' in journalctl -u balupi; "
                    "sudo balupi db backup",
                )
            ]
        path, written = latest
        age = datetime.now(UTC) - written
        message = f"latest {path.name} ({_duration(age)} ago), keeping {backups.keep}"
        if age > BACKUP_MAX_AGE:
            return [
                Finding(
                    "backups",
                    Status.WARN,
                    message,
                    "look for 'nightly database backup failed' in journalctl -u balupi",
                )
            ]
        return [Finding("backups", Status.OK, message)]

    # -- the NAS ------------------------------------------------------------------------------
    async def check_nas(self) -> list[Finding]:
        url = self.settings.nas_url
        if url is None:
            problem = self._problem("nas_url")
            return [
                Finding(
                    "nas",
                    Status.FAIL,
                    problem or "BALUPI_NAS_URL is not set",
                    "set BALUPI_NAS_URL to the NAS's address, e.g. http://192.168.1.10:8000",
                )
            ]
        if not self.options.contact_nas:
            return [Finding("nas", Status.SKIP, "--no-nas: the NAS was not contacted")]
        async with NasClient(url, timeout=httpx.Timeout(self.options.timeout)) as client:
            try:
                response = await client.request("GET", "/api/health")
            except NasUnreachable as exc:
                self._nas_error = f"not reachable at {url} ({exc})"
                return [
                    Finding(
                        "nas",
                        Status.FAIL,
                        self._nas_error,
                        "check BALUPI_NAS_URL; if the NAS sleeps, wake it "
                        "(POST /api/nas/wol or its power button) and run the doctor again",
                    )
                ]
            self._health, self._health_received = response, datetime.now(UTC)
            if response.status_code == 200 and self.options.nas_user and self.options.nas_password:
                await self._login(client)
        return [self._judge_health(url, response)]

    def _judge_health(self, url: str, response: httpx.Response) -> Finding:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            self._nas_error = f"{url}/api/health answered {response.status_code}"
            return Finding(
                "nas",
                Status.FAIL,
                f"{self._nas_error}, not BaluHost's health",
                "check that BALUPI_NAS_URL points at BaluHost's backend (port 8000)",
            )
        version = body.get("version", "?")
        api, minimum = _int(body.get("api_version")), _int(body.get("min_api_version"))
        message = f"BaluHost {version} at {url}, API {api} (this Pi speaks {NAS_API_VERSION})"
        if minimum is not None and minimum > NAS_API_VERSION:
            return Finding(
                "nas",
                Status.FAIL,
                f"{message}; the NAS needs API {minimum} or newer",
                "update BaluPi (deploy/update.sh)",
            )
        if api is not None and api != NAS_API_VERSION:
            return Finding("nas", Status.WARN, message, "update BaluPi (deploy/update.sh)")
        return Finding("nas", Status.OK, message)

    async def _login(self, client: NasClient) -> None:
        credentials = {"username": self.options.nas_user, "password": self.options.nas_password}
        try:
            response = await client.request("POST", "/api/auth/login", json=credentials)
        except NasUnreachable as exc:
            self._nas_error = f"login failed: {exc}"
            return
        body = _json(response) or {}
        token = body.get("access_token")
        if response.status_code == 429:
            self._login_throttled = True
            self._nas_error = "the NAS allows 5 logins a minute; run the doctor again in a minute"
        elif response.status_code != 200:
            detail = body.get("detail", response.reason_phrase)
            self._nas_error = f"the NAS refused the login of {self.options.nas_user!r}: {detail}"
        elif body.get("requires_2fa"):
            self._nas_error = f"{self.options.nas_user!r} has two-factor login; use another user"
        elif isinstance(token, str):
            self._nas_token = token
        else:
            self._nas_error = "the NAS's login answer holds no access token"

    def check_token_secret(self) -> list[Finding]:
        secret = self.settings.nas_jwt_secret
        if secret is None:
            return [
                Finding(
                    "token",
                    Status.WARN,
                    "BALUPI_NAS_JWT_SECRET is not set: the Pi cannot check NAS tokens while the "
                    "NAS sleeps",
                    "copy SECRET_KEY from BaluHost's .env into BALUPI_NAS_JWT_SECRET",
                )
            ]
        if self._health is None or self._health.status_code != 200:
            return [Finding("token", Status.SKIP, "the NAS was not reached")]
        if not self.options.nas_user:
            return [
                Finding(
                    "token",
                    Status.SKIP,
                    "give --nas-user (and --nas-password) to verify NAS_JWT_SECRET on a login",
                )
            ]
        if not self.options.nas_password:  # no terminal to ask on, and none given
            return [
                Finding(
                    "token",
                    Status.SKIP,
                    f"no password given for {self.options.nas_user!r}",
                    "pass --nas-password or set BALUPI_DOCTOR_NAS_PASSWORD "
                    "(without a terminal the doctor cannot ask for it)",
                )
            ]
        if self._nas_token is None and self._login_throttled:
            return [Finding("token", Status.SKIP, self._nas_error or "login refused (429)")]
        if self._nas_token is None:
            return [
                Finding(
                    "token",
                    Status.FAIL,
                    self._nas_error or "no token",
                    "check --nas-user / --nas-password",
                )
            ]
        signer = TokenSigner(
            SystemClock(), nas_secret=secret.get_secret_value(), signing_key="doctor"
        )
        try:
            claims = signer.verify_nas(self._nas_token, expected="access")
        except InvalidToken as exc:
            return [
                Finding(
                    "token",
                    Status.FAIL,
                    f"a token the NAS just issued does not verify with BALUPI_NAS_JWT_SECRET "
                    f"({exc}): it is not the NAS's SECRET_KEY",
                    "copy SECRET_KEY from BaluHost's .env into BALUPI_NAS_JWT_SECRET",
                )
            ]
        return [
            Finding(
                "token",
                Status.OK,
                f"the NAS's token for {claims.username!r} verifies: NAS_JWT_SECRET matches",
            )
        ]

    async def check_handshake(self) -> list[Finding]:
        secret = self.settings.nas_handshake_secret
        setup = (
            "on the NAS (as admin): POST /api/admin/balupi/generate-secret, then PUT "
            "/api/admin/balupi/config {enabled, url, secret}; the same secret into "
            "BALUPI_NAS_HANDSHAKE_SECRET"
        )
        if secret is None:
            return [
                Finding(
                    "handshake",
                    Status.WARN,
                    "BALUPI_NAS_HANDSHAKE_SECRET is not set: the NAS's start and shutdown "
                    "notices are refused",
                    setup,
                )
            ]
        value = secret.get_secret_value()
        parts = _Parts("handshake")
        if len(value) < MIN_SECRET_LENGTH:
            parts.add(
                Status.WARN,
                f"the secret has {len(value)} characters; BaluHost wants {MIN_SECRET_LENGTH}",
                setup,
            )
        else:
            parts.add(Status.OK, f"secret set ({len(value)} characters)")
        await self._compare_handshake(parts, value)
        return [parts.finding()]

    async def _compare_handshake(self, parts: _Parts, secret: str) -> None:
        """Compare with the NAS's own view (``GET /api/admin/balupi/config``, admin only)."""
        if self._nas_token is None or self.settings.nas_url is None:
            parts.add(Status.OK, "not compared with the NAS (needs an admin --nas-user)")
            return
        headers = {"Authorization": f"Bearer {self._nas_token}"}
        async with NasClient(self.settings.nas_url) as client:
            try:
                response = await client.request("GET", "/api/admin/balupi/config", headers=headers)
            except NasUnreachable:
                parts.add(Status.OK, "not compared (the NAS stopped answering)")
                return
        body = _json(response)
        if response.status_code in (404, 405) or body is None:
            parts.add(Status.OK, "not compared (the NAS has no /api/admin/balupi/config)")
            return
        if response.status_code == 403:
            parts.add(Status.OK, "not compared (--nas-user is no admin)")
            return
        if not body.get("enabled"):
            parts.add(
                Status.WARN,
                "the NAS's BaluPi integration is off",
                "PUT /api/admin/balupi/config {enabled: true} on the NAS",
            )
        preview = str(body.get("secret_preview") or "").rstrip(".")
        if not body.get("has_secret"):
            parts.add(Status.FAIL, "the NAS has no handshake secret", "set it on the NAS")
        elif preview and not secret.startswith(preview):
            parts.add(
                Status.FAIL,
                f"the NAS's secret starts {preview!r}, this Pi's does not",
                "put the NAS's secret into BALUPI_NAS_HANDSHAKE_SECRET",
            )
        else:
            parts.add(Status.OK, "the NAS holds the same secret")
        url = body.get("url")
        if isinstance(url, str) and urlsplit(url).port not in (None, self.settings.port):
            parts.add(
                Status.WARN,
                f"the NAS notifies {url}, but this Pi listens on port {self.settings.port}",
                "correct BALUPI_URL on the NAS",
            )

    # -- Wake-on-LAN --------------------------------------------------------------------------
    def check_wake_on_lan(self) -> list[Finding]:
        settings = self.settings
        problem = self._problem("nas_mac")
        if problem:
            return [
                Finding(
                    "wol", Status.FAIL, problem, "the NAS's wired MAC: ip link on the NAS (ether)"
                )
            ]
        if settings.nas_mac is None:
            return [
                Finding(
                    "wol",
                    Status.WARN,
                    "BALUPI_NAS_MAC is not set: the Pi cannot wake the NAS",
                    "set BALUPI_NAS_MAC to the NAS's wired MAC address",
                )
            ]
        parts = _Parts("wol")
        parts.add(Status.OK, f"MAC {settings.nas_mac}")
        self._judge_broadcast(parts)
        self._compare_arp(parts)
        return [parts.finding()]

    def _judge_broadcast(self, parts: _Parts) -> None:
        target = self.settings.wol_broadcast
        port = f"{target}:{self.settings.wol_port}"
        try:
            address = ipaddress.IPv4Address(socket.gethostbyname(target))
        except (OSError, ValueError):
            parts.add(Status.FAIL, f"{target} is no IPv4 address", "set BALUPI_WOL_BROADCAST")
            return
        nas_host = _host_of(self.settings.nas_url)
        if address.is_loopback:
            if nas_host is not None and _is_loopback_host(nas_host):
                parts.add(Status.OK, f"to {port} (loopback, like the NAS: an emulator)")
            else:
                parts.add(
                    Status.FAIL,
                    f"to {port}: loopback never reaches the NAS",
                    "set BALUPI_WOL_BROADCAST to the LAN's broadcast, e.g. 192.168.1.255",
                )
            return
        if address == ipaddress.IPv4Address("255.255.255.255"):
            parts.add(Status.OK, f"to {port} (leaves by the interface of the default route)")
            return
        networks = list(_ipv4_networks())
        if any(address == net.broadcast_address for net in networks):
            parts.add(Status.OK, f"to {port} (a broadcast address of this Pi's network)")
        elif any(address in net for net in networks):
            parts.add(
                Status.WARN,
                f"to {port}, a single host: a sleeping NAS may not get it",
                "use the subnet's broadcast address, e.g. 192.168.1.255",
            )
        else:
            parts.add(
                Status.FAIL,
                f"to {port}, which is on none of this Pi's networks",
                "set BALUPI_WOL_BROADCAST to the LAN's broadcast address",
            )

    def _compare_arp(self, parts: _Parts) -> None:
        """Compare NAS_MAC with the MAC the NAS's IP answered from, when the kernel knows it."""
        host = _host_of(self.settings.nas_url)
        if host is None or self.settings.nas_mac is None:
            return
        try:
            nas_ip = socket.gethostbyname(host)
        except OSError:
            return
        seen = _arp_table().get(nas_ip)
        if seen is None:
            return
        if seen != self.settings.nas_mac:
            parts.add(
                Status.FAIL,
                f"but the NAS at {nas_ip} answers from {seen}",
                f"set BALUPI_NAS_MAC={seen} (the NIC the NAS wakes on)",
            )
        else:
            parts.add(Status.OK, f"matches the NAS's ARP entry ({nas_ip})")

    # -- plugs --------------------------------------------------------------------------------
    async def check_plugs(self) -> list[Finding]:
        database = _database_file(self.settings)
        if database is not None and not database.exists():
            return [Finding("plugs", Status.SKIP, "no database yet, so no plugs")]
        engine = create_engine(self.settings.resolved_database_url)
        try:
            plugs = await PlugStore(create_sessionmaker(engine)).all()
        except SQLAlchemyError as exc:
            return [Finding("plugs", Status.SKIP, f"cannot list plugs: {_first_line(exc)}")]
        finally:
            await engine.dispose()
        if not plugs:
            return [Finding("plugs", Status.SKIP, "no plugs added (POST /api/tapo/devices)")]
        return list(await asyncio.gather(*(self._check_plug(plug) for plug in plugs)))

    async def _check_plug(self, plug: PlugRecord) -> Finding:
        name = f"plug {plug.name}"
        settings = self.settings
        password = settings.tapo_password.get_secret_value() if settings.tapo_password else None
        connector = PlugConnector(
            settings.tapo_username, password, request_timeout_s=self.options.timeout
        )
        try:
            connection = await within(
                self.options.timeout * 2,
                plug.address,
                connector.connect(plug.address, plug.connection_params),
            )
        except PlugAuthFailed:
            return Finding(
                name,
                Status.FAIL,
                f"{plug.address} refused the Tapo account {settings.tapo_username!r}",
                "set BALUPI_TAPO_USERNAME / BALUPI_TAPO_PASSWORD to the TP-Link account "
                "the plug is bound to",
            )
        except PlugError as exc:
            return Finding(
                name,
                Status.FAIL,
                str(exc),
                "is the plug powered and on the LAN? If its address changed, add it again "
                "(POST /api/tapo/devices)",
            )
        try:
            identity = connection.identity
        finally:
            await connection.close()
        message = f"{identity.model} at {plug.address} logs in with the Tapo account"
        if identity.mac != plug.mac:
            return Finding(
                name,
                Status.WARN,
                f"{message}, but it is {identity.mac}, not {plug.mac}",
                "another plug took the address; add the right one again",
            )
        return Finding(name, Status.OK, message)

    # -- mDNS and the clock -------------------------------------------------------------------
    async def check_mdns(self) -> list[Finding]:
        if not self.settings.mdns_enabled:
            return [Finding("mdns", Status.SKIP, "MDNS_ENABLED=false")]
        interfaces = mdns_interfaces(self.settings.host, self.settings.mdns_interfaces)
        where = ", ".join(interfaces) if isinstance(interfaces, list) else "all interfaces"
        try:
            zeroconf = AsyncZeroconf(interfaces=interfaces)
        except OSError as exc:
            return [
                Finding(
                    "mdns",
                    Status.WARN,
                    f"zeroconf cannot start on {where} ({exc}); BaluPi runs without mDNS",
                    "check BALUPI_MDNS_INTERFACES and that the network allows multicast",
                )
            ]
        await zeroconf.async_close()
        return [Finding("mdns", Status.OK, f"zeroconf starts on {where}")]

    def check_clock(self) -> list[Finding]:
        parts = _Parts("clock")
        synced, source = _clock_synchronised()
        if synced is None:
            parts.add(Status.WARN, f"cannot tell whether NTP synchronises the clock ({source})")
        elif synced:
            parts.add(Status.OK, f"synchronised ({source})")
        else:
            parts.add(
                Status.WARN,
                f"not synchronised ({source}); a Pi has no battery clock",
                "enable NTP: sudo timedatectl set-ntp true",
            )
        skew = _skew_to(self._health, self._health_received)
        if skew is not None:
            text = (
                f"the NAS's clock differs by {skew:+.0f} s"
                if skew
                else "the NAS's clock agrees (within a second)"
            )
            if abs(skew) > CLOCK_SKEW_FAIL_S:
                parts.add(Status.FAIL, text, "synchronise both clocks with NTP")
            elif abs(skew) > CLOCK_SKEW_WARN_S:
                parts.add(Status.WARN, text, "synchronise both clocks with NTP")
            else:
                parts.add(Status.OK, text)
        return [parts.finding()]


# -- helpers --------------------------------------------------------------------------------


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_of(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _open_to_others(directory: Path) -> bool:
    """Whether other users can get at ``directory``: it grants them access, and so does the way
    there (a 0755 directory inside a 0700 one, like the demo's, is closed)."""
    if not stat.S_IMODE(directory.stat().st_mode) & stat.S_IRWXO:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in directory.parents)


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _duration(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} days"


def _age(path: Path) -> timedelta:
    return datetime.now(UTC) - datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _json(response: httpx.Response) -> dict[str, object] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _database_file(settings: Settings) -> Path | None:
    try:
        return sqlite_path(settings.resolved_database_url)
    except BackupError:
        return None


def _mount_of(path: Path) -> tuple[str, str, str] | None:
    """(device, mount point, type) of the mount holding ``path``, from ``/proc/mounts``."""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    best: tuple[str, str, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        device, point, fstype = fields[0], _unescape(fields[1]), fields[2]
        inside = path == Path(point) or Path(point) in path.parents
        if inside and (best is None or len(point) >= len(best[1])):
            best = (device, point, fstype)
    return best


def _unescape(field_text: str) -> str:
    """``/proc/mounts`` writes spaces and tabs in paths as octal escapes."""
    return field_text.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def _ipv4_networks() -> Iterator[ipaddress.IPv4Network]:
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and address.netmask:
                yield ipaddress.IPv4Network(f"{address.address}/{address.netmask}", strict=False)


def _arp_table() -> dict[str, str]:
    """IPv4 address → MAC from the kernel's neighbour table (complete entries only)."""
    table: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/arp").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 4 and fields[2] != "0x0" and fields[3] != "00:00:00:00:00:00":
                table[fields[0]] = fields[3].lower()
    return table


def _clock_synchronised() -> tuple[bool | None, str]:
    """Whether NTP keeps the clock: systemd's view (timedatectl), else the kernel's (adjtimex)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        result = subprocess.run(
            ["timedatectl", "show", "--property=NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if result.returncode == 0 and result.stdout.strip() in ("yes", "no"):
            return result.stdout.strip() == "yes", "timedatectl"
    status = _adjtimex_status()
    if status is None:
        return None, "neither timedatectl nor adjtimex answered"
    state, flags = status
    return state != TIME_ERROR and not flags & STA_UNSYNC, "the kernel's adjtimex state"


class _Timex(ctypes.Structure):
    """``struct timex`` of adjtimex(2); only ``modes`` (0: read) and ``status`` are used."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("padding", ctypes.c_int * 11),
    ]


def _adjtimex_status() -> tuple[int, int] | None:
    """The kernel clock's state and status flags (read only: modes 0), or None off Linux."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        libc = ctypes.CDLL(library, use_errno=True)
        timex = _Timex()
        state = int(libc.adjtimex(ctypes.byref(timex)))
    except (OSError, AttributeError):
        return None
    return (state, int(timex.status)) if state >= 0 else None


def _skew_to(response: httpx.Response | None, received: datetime | None) -> float | None:
    """Seconds the NAS's clock (its ``Date`` header) is ahead of this Pi's; None if unknown."""
    if response is None or received is None or "date" not in response.headers:
        return None
    try:
        theirs = parsedate_to_datetime(response.headers["date"])
    except (TypeError, ValueError):
        return None
    # The NAS wrote the header about half the round trip before it arrived, in whole seconds
    # (so half a second after the truncated time, on average).
    written = received - response.elapsed / 2
    skew = (theirs - written).total_seconds() + 0.5
    return 0.0 if abs(skew) < 1.5 else skew


def summary(findings: list[Finding]) -> str:
    counts = {status: sum(f.status is status for f in findings) for status in Status}
    return (
        f"{counts[Status.OK]} ok, {counts[Status.WARN]} warn, {counts[Status.FAIL]} FAIL, "
        f"{counts[Status.SKIP]} skipped"
    )


def _unwritable_hint(directory: Path, exc: OSError) -> str:
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


def _options(args: argparse.Namespace) -> DoctorOptions:
    password = args.nas_password or os.environ.get("BALUPI_DOCTOR_NAS_PASSWORD")
    if args.nas_user and password is None and sys.stdin.isatty():
        password = getpass.getpass(f"NAS password of {args.nas_user}: ")
    return DoctorOptions(
        nas_user=args.nas_user,
        nas_password=password or "",
        contact_nas=not args.no_nas,
        timeout=args.timeout,
    )


async def run_doctor(args: argparse.Namespace) -> int:
    """``balupi doctor``: print one line per check; 1 if any failed, else 0."""
    configure_logging(json_lines=False, level="ERROR")  # findings, not the services' log lines
    options = _options(args)
    print(
        f"BaluPi doctor {__version__}. "
        + (
            "It contacts the NAS (an explicit admin action: a request may wake a "
            "soft-sleeping NAS) and every plug."
            if options.contact_nas
            else "The NAS is left alone (--no-nas); it contacts every plug."
        ),
        flush=True,
    )
    try:
        settings, problems = load_settings_reporting()
    except ConfigError as exc:
        print(Finding("config", Status.FAIL, str(exc), "fix the configuration file").line())
        return 1
    findings = await Doctor(settings, problems, options).run()
    for finding in findings:
        print(finding.line())
    print(summary(findings))
    return 1 if any(f.status is Status.FAIL for f in findings) else 0
