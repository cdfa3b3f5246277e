"""The product never imports the simulated home: demo data and emulators live under ``sim/``,
reached only from the command line (``balupi sim …``, ``balupi demo``)."""

from __future__ import annotations

import ast
from pathlib import Path

import balupi

PRODUCT = ("api", "db", "services")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_no_product_module_imports_sim() -> None:
    root = Path(balupi.__file__).parent
    offenders = [
        f"{path.relative_to(root)}: {name}"
        for package in PRODUCT
        for path in sorted((root / package).rglob("*.py"))
        for name in sorted(_imports(path))
        if name == "balupi.sim" or name.startswith("balupi.sim.")
    ]
    assert offenders == []
