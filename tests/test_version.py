"""One version: the package's ``__version__`` is the one pyproject.toml (and so pip) declares."""

import tomllib
from pathlib import Path

from balupi import __version__

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_package_version_is_the_projects() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert __version__ == declared
