"""``balupi.types`` is BaluPi's vocabulary: everything may import it, so it imports nothing."""

from __future__ import annotations

import ast
from pathlib import Path

import balupi.types


def test_the_vocabulary_depends_on_nothing_of_balupis() -> None:
    tree = ast.parse(Path(balupi.types.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "typing"}
