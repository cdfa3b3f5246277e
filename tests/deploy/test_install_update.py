"""``deploy/install.sh`` and ``deploy/update.sh``, run for real into a temporary prefix.

One installation is walked through its life, and the tests of this module share it in file
order, like the steps of an administrator's week: install; install again (nothing changes); the
installed unit verifies; the installed BaluPi runs with the installed configuration; updates (a
migration that fails on the copy, a release that does not start and is rolled back, one that
works); uninstall, which keeps the data. The scripts run with ``--no-system`` (no apt, useradd or
systemctl); the update tests control the service with ``fake_systemctl.py`` instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from dotenv import dotenv_values

from balupi.config import load_settings
from tests.deploy.conftest import (
    DEPLOY,
    copy_sources,
    healthy,
    run_script,
    tree_digest,
    wait_until,
)
from tests.processes import free_port

RELEASE_ID = re.compile(r"^\d+\.\d+\.\d+-[0-9a-f]{12}$")
DEV_TOOLS = ("pip", "pytest", "mypy", "ruff", "setuptools")


@dataclass
class Installation:
    prefix: Path
    data: Path
    sources: Path
    wheelhouse: Path
    port: int
    first_run: subprocess.CompletedProcess[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> Path:
        return self.prefix / "usr/local/sbin/balupi"

    @property
    def env_file(self) -> Path:
        return self.prefix / "etc/balupi/balupi.env"

    @property
    def unit(self) -> Path:
        return self.prefix / "etc/systemd/system/balupi.service"

    @property
    def current(self) -> Path:
        return self.prefix / "opt/balupi/current"

    @property
    def database(self) -> Path:
        return self.data / "balupi.db"

    def run(
        self, script: str, *args: str, sources: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``deploy/<script>`` of ``sources`` (default: the installed ones) on this prefix."""
        return run_script(
            (sources or self.sources) / "deploy" / script,
            "--prefix",
            str(self.prefix),
            "--no-system",
            "--wheelhouse",
            str(self.wheelhouse),
            *args,
            check=check,
        )

    def balupi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The installed ``balupi`` admin command."""
        result = subprocess.run(
            [str(self.admin), *args], capture_output=True, text=True, timeout=120, check=False
        )
        if check and result.returncode != 0:
            pytest.fail(f"balupi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def configure(self, **values: str) -> None:
        """Set ``BALUPI_<KEY>=value`` lines in the configuration, as an admin edits it."""
        lines = self.env_file.read_text().splitlines()
        for key, value in values.items():
            name = f"BALUPI_{key.upper()}"
            lines = [line for line in lines if not line.startswith(f"{name}=")]
            lines.append(f"{name}={value}")
        self.env_file.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def installation(
    tmp_path_factory: pytest.TempPathFactory, sources: Path, wheelhouse: Path
) -> Installation:
    root = tmp_path_factory.mktemp("install")
    port = free_port()
    installation = Installation(root / "prefix", root / "ssd/balupi", sources, wheelhouse, port)
    installation.first_run = installation.run(
        "install.sh", "--data-dir", str(installation.data), "--port", str(port)
    )
    return installation


def _env(installation: Installation) -> dict[str, str | None]:
    return dotenv_values(installation.env_file)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_install_builds_a_release_writes_the_configuration_and_the_unit(
    installation: Installation,
) -> None:
    target = os.readlink(installation.current)
    assert target.startswith("releases/")
    release = installation.current.parent / target
    assert RELEASE_ID.match(release.name)
    assert (release / ".complete").exists()
    assert os.access(release / "bin/balupi", os.X_OK)
    (site_packages,) = release.glob("lib/python3.*/site-packages")
    # The package itself, migrations included: not an editable link back to the sources.
    assert (site_packages / "balupi/db/migrations/versions/0001_initial_schema.py").exists()
    assert not list(site_packages.glob("__editable__*"))
    for tool in DEV_TOOLS:
        assert not (site_packages / tool).exists(), f"{tool} has no place on the Pi"

    assert _mode(installation.env_file) == 0o600
    assert _mode(installation.env_file.parent) == 0o755
    values = _env(installation)
    assert values["BALUPI_ENV"] == "production"
    assert values["BALUPI_HOST"] == "0.0.0.0"
    assert values["BALUPI_DATA_DIR"] == str(installation.data)
    assert values["BALUPI_PORT"] == str(installation.port)
    settings = load_settings(
        **{k.removeprefix("BALUPI_").lower(): v for k, v in values.items() if v is not None}
    )
    assert settings.is_production  # the generated secret passes the production checks
    assert installation.data.is_dir()
    assert _mode(installation.data) == 0o750

    unit = installation.unit.read_text()
    assert f"ExecStart={installation.current}/bin/balupi serve" in unit
    assert f"ReadWritePaths={installation.data}\n" in unit
    assert f"EnvironmentFile={installation.env_file}\n" in unit
    assert not re.search(r"@[A-Z_]+@", unit)  # every placeholder filled in
    assert os.access(installation.admin, os.X_OK)
    assert installation.first_run is not None
    assert "not starting the service (--no-system)" in installation.first_run.stderr


def test_a_second_run_changes_nothing(installation: Installation) -> None:
    before = tree_digest(installation.prefix, installation.data)
    second = installation.run("install.sh")
    assert tree_digest(installation.prefix, installation.data) == before, second.stderr
    assert "is built already" in second.stderr
    assert "keeping the configuration" in second.stderr


def test_a_port_below_1024_and_only_that_gets_the_bind_capability(
    installation: Installation,
) -> None:
    drop_in = installation.prefix / "etc/systemd/system/balupi.service.d/10-low-port.conf"
    installation.configure(port="80")
    installation.run("install.sh")
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in drop_in.read_text()
    installation.configure(port=str(installation.port))
    installation.run("install.sh")
    assert not drop_in.exists()


def test_the_installed_unit_passes_systemd_analyze(installation: Installation) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd; .ci/run does)")
    # The installed unit as it is: its ExecStart is the prefix's real release. Warnings (an
    # unknown key, a key in the wrong section) count as failures.
    verify = subprocess.run(
        [analyze, "verify", "--man=no", str(installation.unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")
    security = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(installation.unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    assert exposure is not None, security.stdout + security.stderr
    assert float(exposure.group(1)) <= 2.0, security.stdout


def _unit_sections(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def test_the_unit_template_keeps_the_hardening() -> None:
    sections = _unit_sections((DEPLOY / "balupi.service").read_text())
    unit, service = sections["Unit"], sections["Service"]
    # Start limits work in [Unit] only: in [Service] systemd ignores the ...Sec spelling.
    assert {"StartLimitIntervalSec", "StartLimitBurst"} <= unit.keys()
    assert not any(key.startswith("StartLimit") for key in service)
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "Restart": "on-failure",
        "User": "@USER@",
        "EnvironmentFile": "@ENV_FILE@",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "@DATA_DIR@",  # the data path, and nothing else
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
        "CapabilityBoundingSet": "",
        "LockPersonality": "yes",
        "RestrictRealtime": "yes",
    }
    assert {key: service[key] for key in expected} == {k: [v] for k, v in expected.items()}
    assert int(service["WatchdogSec"][0]) > 0
    assert "@system-service" in service["SystemCallFilter"]
    memory_max = service["MemoryMax"][0]
    assert memory_max.endswith("M")
    assert int(memory_max[:-1]) <= 512


def test_the_installed_balupi_runs_with_the_installed_configuration(
    installation: Installation,
) -> None:
    assert installation.balupi("--version").stdout.startswith("balupi ")
    upgrade = installation.balupi("db", "upgrade")
    assert "database at revision" in upgrade.stdout
    assert installation.database.exists()

    doctor = installation.balupi("doctor", "--no-nas", check=False)
    assert doctor.returncode == 1  # no NAS is configured yet
    assert re.search(r"^ok +config +production mode", doctor.stdout, re.M), doctor.stdout
    assert re.search(r"^ok +data +", doctor.stdout, re.M), doctor.stdout
    assert re.search(r"^FAIL +nas +BALUPI_NAS_URL is not set", doctor.stdout, re.M)

    # A configuration made world-readable is caught by the doctor and repaired by install.sh.
    installation.env_file.chmod(0o644)
    doctor = installation.balupi("doctor", "--no-nas", check=False)
    assert re.search(r"^FAIL +config .*readable by others", doctor.stdout, re.M), doctor.stdout
    installation.run("install.sh")
    assert _mode(installation.env_file) == 0o600


# -- updates --------------------------------------------------------------------------------


@dataclass
class Service:
    """The fake systemctl's view: its state directory and the command that stands in."""

    state: Path
    command: Path

    def run(self, *args: str) -> int:
        return subprocess.run([str(self.command), *args], check=False, timeout=60).returncode

    def starts(self) -> list[str]:
        path = self.state / "starts"
        return path.read_text().split() if path.exists() else []

    def pid(self) -> str:
        return (self.state / "pid").read_text()


@pytest.fixture(scope="module")
def service(installation: Installation, tmp_path_factory: pytest.TempPathFactory) -> Service:
    state = tmp_path_factory.mktemp("systemctl")
    command = state / "systemctl"
    fake = Path(__file__).with_name("fake_systemctl.py")
    command.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "{fake}" "{state}" "{installation.prefix}" "$@"\n'
    )
    command.chmod(0o755)
    # The admin keeps BaluPi off the LAN for this test: loopback only, no mDNS.
    installation.configure(host="127.0.0.1", mdns_enabled="false", log_level="WARNING")
    service = Service(state, command)
    assert service.run("start", "balupi.service") == 0
    wait_until(lambda: healthy(installation.url), 60, "the installed BaluPi to answer")
    yield service
    service.run("stop", "balupi.service")


def _release_b(installation: Installation, root: Path) -> Path:
    """The next version's sources: a migration that adds a table and a unique index, which
    old data can violate (two ``servers`` rows with one name)."""
    sources = copy_sources(root, origin=installation.sources)
    versions = sources / "src/balupi/db/migrations/versions"
    head = ScriptDirectory(str(versions.parent)).get_current_head()
    (versions / "9001_update_probe.py").write_text(
        f'''"""Test only: what the next release's migration might be."""

import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("update_probe", sa.Column("id", sa.Integer, primary_key=True))
    op.create_index("ix_servers_unique_name", "servers", ["name"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_servers_unique_name", "servers")
    op.drop_table("update_probe")
'''
    )
    return sources


def _revision(database: Path) -> str:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return str(db.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def _tables(database: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_update_tries_the_migration_on_a_copy_rolls_back_a_failed_start_then_switches(
    installation: Installation, service: Service, tmp_path: Path
) -> None:
    release_b = _release_b(installation, tmp_path / "release-b")
    old = os.readlink(installation.current)
    old_revision = _revision(installation.database)
    update = ("update.sh", "--systemctl", str(service.command), "--ready-timeout", "60")

    # 1. A migration that fails on the copy of the live database stops the update: the
    #    service was never stopped and the database is untouched.
    with contextlib.closing(sqlite3.connect(installation.database)) as db, db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(servers)") if row[1] != "id"]
        names = ", ".join(columns)
        db.execute(f"INSERT INTO servers ({names}) SELECT {names} FROM servers LIMIT 1")
    running = service.pid()
    failed = installation.run(*update, sources=release_b, check=False)
    assert failed.returncode == 1
    assert "cannot migrate a copy of the database; nothing was changed" in failed.stderr
    assert os.readlink(installation.current) == old
    assert service.pid() == running
    assert healthy(installation.url)
    assert _revision(installation.database) == old_revision
    assert not list((installation.data / "backups").glob("*update*"))

    # 2. The new release migrates, but its service does not start: rolled back to the old
    #    release on the database as it was before the update.
    with contextlib.closing(sqlite3.connect(installation.database)) as db, db:
        db.execute("DELETE FROM servers WHERE id > (SELECT min(id) FROM servers)")
    (service.state / "refuse-next-start").touch()
    rolled_back = installation.run(*update, sources=release_b, check=False)
    assert rolled_back.returncode == 1
    assert "rolling back" in rolled_back.stderr
    assert f"{old.removeprefix('releases/')} runs again" in rolled_back.stderr
    assert os.readlink(installation.current) == old
    assert healthy(installation.url)
    assert service.starts()[-1] == old
    assert _revision(installation.database) == old_revision
    assert "update_probe" not in _tables(installation.database)
    (kept,) = installation.data.glob("balupi.db.replaced-*[0-9]Z")  # the migrated one, aside
    assert "update_probe" in _tables(kept)

    # 3. Third time lucky: the built release is reused, the service runs it.
    updated = installation.run(*update, sources=release_b)
    assert "is built already" in updated.stderr
    new = os.readlink(installation.current)
    assert new != old
    assert service.starts()[-1] == new
    assert healthy(installation.url)
    assert _revision(installation.database) == "9001"
    assert "update_probe" in _tables(installation.database)
    assert len(list((installation.data / "backups").glob("pre-update-*.db"))) == 2
    releases = {p.name for p in (installation.prefix / "opt/balupi/releases").iterdir()}
    assert {old.removeprefix("releases/"), new.removeprefix("releases/")} <= releases

    # Running it again is a no-op.
    again = installation.run(*update, sources=release_b)
    assert "nothing to do" in again.stderr


def test_uninstall_removes_the_service_and_keeps_the_data(
    installation: Installation, service: Service
) -> None:
    service.run("stop", "balupi.service")
    removed = installation.run("install.sh", "--uninstall")
    assert "kept the data" in removed.stderr
    assert not (installation.prefix / "opt/balupi").exists()
    assert not installation.unit.exists()
    assert not installation.admin.exists()
    assert installation.database.exists()
    assert installation.env_file.exists()
