"""Each entry point imports on its own: no import cycle shows only in one order.

``balupi sim nas`` once crashed at start because it reached ``nas.link`` first, and the cycle
``nas.link -> nas.probe -> auth -> nas.link`` only broke in that order; the app happened to import
auth first.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

ENTRY_MODULES = [
    "balupi.app",
    "balupi.cli",
    "balupi.startup",
    "balupi.doctor",
    "balupi.schedule",
    "balupi.tasks",
    "balupi.services.nas.link",
    "balupi.services.nas.probe",
    "balupi.services.auth",
    "balupi.services.uploads.worker",
    "balupi.services.files.service",
    "balupi.services.cache.service",
    "balupi.sim.nas.cli",
    "balupi.sim.plug.cli",
]


@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_a_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
