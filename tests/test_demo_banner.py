"""After `./scripts/demo` the banner says how to run `balupi`: `.venv/bin/balupi` (issue 13)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from balupi.demo import balupi_command


def test_the_banner_names_the_venv_script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "balupi").write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.chdir(tmp_path)
    assert balupi_command() == ".venv/bin/balupi"


def test_without_the_script_it_names_python_m(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    assert balupi_command() == f"{tmp_path / 'python3'} -m balupi"
