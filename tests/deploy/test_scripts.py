"""The deploy scripts stop at the first error and pass shellcheck."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY

SCRIPTS = sorted(DEPLOY.glob("*.sh"))
# common.sh is sourced by the others, which set the shell options for it.
EXECUTABLES = [script for script in SCRIPTS if script.read_text().startswith("#!")]


@pytest.mark.parametrize("script", EXECUTABLES, ids=lambda path: path.name)
def test_scripts_stop_at_the_first_error(script: Path) -> None:
    assert "\nset -euo pipefail\n" in script.read_text()


def test_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; .ci/run does)")
    result = subprocess.run(
        [shellcheck, "--external-sources", *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        cwd=DEPLOY.parent,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
