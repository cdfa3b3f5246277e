"""A failed install says why: a build that could not compile, or a package that was not there.

On 32-bit Raspberry Pi OS pip compiles cffi, greenlet, pillow and psutil (no armv7l wheels on the
index). Without a compiler the install used to blame the network; ``pip_failure`` in
deploy/common.sh reads pip's error output and names the packages and the missing tool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.deploy.conftest import DEPLOY

BUILD_FAILURE = """\
  error: command 'gcc' failed: No such file or directory
  ERROR: Failed building wheel for cffi
ERROR: Could not build wheels for cffi, greenlet, pillow, psutil, which is required to install \
pyproject.toml-based projects
"""
MISSING = "ERROR: No matching distribution found for greenlet==3.5.6\n"


def explain(log: str, tmp_path: Path, *, wheelhouse: bool = False, tools: bool = True) -> str:
    """``pip_failure`` on this pip output; ``tools=False`` hides gcc from its PATH."""
    log_file = tmp_path / "pip.log"
    log_file.write_text(log)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    needed = ["sed", "head", "grep"] + (["gcc"] if tools else [])
    for tool in needed:
        found = shutil.which(tool)
        if found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    script = f'. "{DEPLOY}/common.sh"; '
    if wheelhouse:
        script += "PIP_ARGS=(--no-index --find-links /nowhere); "
    script += 'pip_failure "$1"'
    env = {"PATH": str(bin_dir), "PYTHON": sys.executable, "HOME": os.environ.get("HOME", "/")}
    result = subprocess.run(
        ["/bin/bash", "-c", script, "pip_failure", str(log_file)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return result.stdout


def test_a_build_without_a_compiler_names_the_packages_and_the_missing_tool(tmp_path: Path) -> None:
    message = explain(BUILD_FAILURE, tmp_path, tools=False)
    assert message.startswith("building cffi, greenlet, pillow, psutil from source failed")
    assert "(missing: a C compiler (gcc))" in message
    packages = "build-essential python3-dev libffi-dev libjpeg-dev zlib1g-dev"
    assert f"apt-get install {packages}" in message
    assert "network" not in message


def test_a_missing_package_blames_the_network_or_the_wheelhouse(tmp_path: Path) -> None:
    assert "no network? try --wheelhouse DIR" in explain(MISSING, tmp_path)
    assert "the wheelhouse lacks a pinned package (greenlet==3.5.6)" in explain(
        MISSING, tmp_path, wheelhouse=True
    )
