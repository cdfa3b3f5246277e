"""Fixtures for the deployment tests: a frozen copy of the sources, a wheelhouse, helpers.

The install and update scripts run for real, into a temporary ``--prefix`` with ``--no-system``
(no apt, useradd or systemctl). They build real venvs with pip, offline from a wheelhouse: the
pinned wheels in ``build/wheelhouse`` (``.ci/run`` fills it before the tests; without it the
first run downloads them once, and skips if there is no index to download from).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.processes import clean_environment

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
WHEELHOUSE = Path(os.environ.get("BALUPI_WHEELHOUSE", REPO / "build" / "wheelhouse"))
# The build backend pip needs for BaluPi itself (pyproject.toml's build-system).
BUILD_REQUIREMENT = "setuptools>=77"
SOURCE_PARTS = ("pyproject.toml", "README.md", "requirements.txt", "src", "deploy")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` (a real process or socket: there is no event to wait on)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def tree_digest(*roots: Path) -> str:
    """A digest of every entry under ``roots``: path, type, mode, owner, size, mtime, content
    and link target. Equal digests mean nothing was written, not even the same bytes again."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted([root, *root.rglob("*")]):
            info = path.lstat()
            fields = [
                str(path.relative_to(root)),
                str(info.st_mode),
                str(info.st_uid),
                str(info.st_gid),
                str(info.st_mtime_ns),
            ]
            if path.is_symlink():
                fields.append(os.readlink(path))
            elif path.is_file():
                fields += [str(info.st_size), hashlib.sha256(path.read_bytes()).hexdigest()]
            digest.update("\0".join(fields).encode() + b"\n")
    return digest.hexdigest()


def run_script(
    script: Path, *args: str, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a deploy script with the test's Python (3.11+, with pip) and a clean environment."""
    result = subprocess.run(
        [str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_environment(PYTHON=sys.executable),
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(f"{script.name} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def _pins() -> list[str]:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return [line.split("==")[0] for line in lines if "==" in line and not line.startswith("#")]


def _normal(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _complete(wheelhouse: Path) -> bool:
    have = {_normal(p.name.split("-")[0]) for p in wheelhouse.glob("*.whl")}
    return "setuptools" in have and all(_normal(pin) in have for pin in _pins())


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """Wheels for every pin of requirements.txt and for the build backend."""
    if not (WHEELHOUSE.is_dir() and _complete(WHEELHOUSE)):
        WHEELHOUSE.mkdir(parents=True, exist_ok=True)
        download = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--dest", str(WHEELHOUSE), "-r", str(REPO / "requirements.txt")),
                BUILD_REQUIREMENT,
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if download.returncode != 0 or not _complete(WHEELHOUSE):
            pytest.skip(f"no wheelhouse in {WHEELHOUSE} and no index to fill it from")
    return WHEELHOUSE


def copy_sources(target: Path, origin: Path = REPO) -> Path:
    """A frozen copy of what the scripts install, so edits in the working tree cannot change
    the release a test builds halfway through it."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "node_modules")
    target.mkdir(parents=True, exist_ok=True)
    for part in SOURCE_PARTS:
        source = origin / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=ignore, symlinks=True)
        else:
            shutil.copy2(source, target / part)
    return target


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_sources(tmp_path_factory.mktemp("sources"))
