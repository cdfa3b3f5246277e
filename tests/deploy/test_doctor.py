"""``balupi doctor`` against the running demo: all well, then one broken setting at a time.

The demo writes its Pi's settings to ``balupi.yaml``; the doctor reads them through
``BALUPI_CONFIG``, as any BaluPi command would, and each broken case overrides one variable in
the environment (which wins over the file). Two checks may honestly not pass in a test
container: the clock (no NTP synchronisation to report) and mDNS (no multicast); for those a
``warn`` is accepted only with the reason that says so.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from balupi.config import load_settings_reporting
from tests.deploy.conftest import wait_until
from tests.processes import clean_environment, free_port

CHECKS = (
    "config",
    "data",
    "disk",
    "database",
    "backups",
    "nas",
    "token",
    "handshake",
    "wol",
    "plug NAS",
    "plug Desk monitor",
    "mdns",
    "clock",
)
# Longest first: "plug NAS" before "plugs" (the line when there is no plug to check).
NAMES = sorted((*CHECKS, "plugs"), key=len, reverse=True)
# What a test machine may lack, and the reason the doctor then gives.
MAY_WARN = {"clock": ("not synchronised", "cannot tell"), "mdns": ("cannot start",)}
ADMIN = ("--nas-user", "admin", "--nas-password", "admin-demo-pw")


@dataclass(frozen=True)
class Report:
    returncode: int
    output: str
    lines: dict[str, tuple[str, str]]  # check -> (status, the line and its fix)

    def failed(self) -> set[str]:
        return {check for check, (status, _) in self.lines.items() if status == "FAIL"}


def _parse(output: str) -> dict[str, tuple[str, str]]:
    lines: dict[str, tuple[str, str]] = {}
    last = None
    for line in output.splitlines()[1:]:
        status, _, rest = line.partition(" ")
        if status in ("ok", "warn", "FAIL", "skip"):
            check = next(name for name in NAMES if rest.lstrip().startswith(name))
            lines[check] = (status, line)
            last = check
        elif last is not None and line.startswith(" "):  # the "→ what to do" line
            lines[last] = (lines[last][0], lines[last][1] + "\n" + line)
    return lines


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``balupi demo`` in a subprocess on a known port; the path of its ``balupi.yaml``."""
    root = tmp_path_factory.mktemp("demo")
    log = root / "demo.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "balupi", "demo"),
                *("--port", str(free_port()), "--data-dir", str(root / "home")),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=clean_environment(),
        )
    try:
        wait_until(
            lambda: "Press Ctrl-C to stop." in log.read_text() or process.poll() is not None,
            60,
            "the demo to start",
        )
        assert process.poll() is None, log.read_text()
        yield root / "home" / "balupi.yaml"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def doctor(config: Path, *args: str, prefix: tuple[str, ...] = (), **environment: str) -> Report:
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "balupi", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_environment(BALUPI_CONFIG=str(config), **environment),
        check=False,
    )
    assert not result.stderr.strip(), result.stderr
    return Report(result.returncode, result.stdout, _parse(result.stdout))


def test_doctor_passes_every_check_of_the_demo(demo_config: Path) -> None:
    report = doctor(demo_config, *ADMIN)
    assert report.output.startswith("BaluPi doctor")
    assert "contacts the NAS (an explicit admin action" in report.output.splitlines()[0]
    assert set(report.lines) == set(CHECKS), report.output
    for check, (status, line) in report.lines.items():
        if status == "warn" and check in MAY_WARN:
            assert any(reason in line for reason in MAY_WARN[check]), line
            continue
        assert status == "ok", line
    assert report.returncode == 0
    assert "NAS_JWT_SECRET matches" in report.lines["token"][1]
    assert "API 1" in report.lines["nas"][1]


def _unwritable_data_dir(tmp_path: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o555)
    if os.geteuid() != 0:
        return {"BALUPI_DATA_DIR": str(directory)}, ()
    # Root writes anywhere: run the doctor as root without the capability that allows it.
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("as root, an unwritable directory needs setpriv (util-linux) to drop caps")
    drop = ("--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-all")
    return {"BALUPI_DATA_DIR": str(directory)}, (setpriv, *drop)


@pytest.mark.parametrize(
    ("case", "failed", "says"),
    [
        ("bad NAS URL", {"nas"}, "not reachable at http://127.0.0.1:"),
        ("wrong NAS secret", {"token"}, "does not verify with BALUPI_NAS_JWT_SECRET"),
        ("unwritable data dir", {"data"}, "is not writable"),
        ("bad MAC", {"config", "wol"}, "BALUPI_NAS_MAC: must be a MAC address"),
    ],
)
def test_doctor_names_each_failure(
    demo_config: Path, tmp_path: Path, case: str, failed: set[str], says: str
) -> None:
    args: tuple[str, ...] = ()
    prefix: tuple[str, ...] = ()
    if case == "bad NAS URL":
        environment = {"BALUPI_NAS_URL": f"http://127.0.0.1:{free_port()}"}
    elif case == "wrong NAS secret":
        # A login: with the demo's own three, the NAS's five a minute are all used up.
        environment = {"BALUPI_NAS_JWT_SECRET": "not-the-nas-secret-" + "x" * 32}
        args = ADMIN
    elif case == "unwritable data dir":
        environment, prefix = _unwritable_data_dir(tmp_path)
    else:
        environment = {"BALUPI_NAS_MAC": "zz:11:22:33:44:55"}
    report = doctor(demo_config, *args, prefix=prefix, **environment)
    assert report.returncode == 1
    assert report.failed() == failed, report.output
    for check in failed:
        assert says in report.lines[check][1], report.output
        assert "→" in report.lines[check][1]  # and what to do about it


def test_a_broken_configuration_is_reported_whole(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every problem at once, and settings for the other checks (development mode assumed)."""
    for name in [n for n in os.environ if n.startswith("BALUPI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BALUPI_ENV", "production")
    monkeypatch.setenv("BALUPI_NAS_MAC", "not-a-mac")
    monkeypatch.setenv("BALUPI_NAS_URL", "http://192.168.1.10:8000")
    settings, problems = load_settings_reporting(data_dir=tmp_path)
    assert [problem.split(":")[0] for problem in problems] == [
        "BALUPI_NAS_MAC",
        "BALUPI_SECRET_KEY",
    ]
    assert settings.nas_mac is None
    assert settings.nas_url == "http://192.168.1.10:8000"
    assert not settings.is_production
