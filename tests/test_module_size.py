"""No module grows past 400 lines without saying why (issue 15), and none past 600.

A module over ``SOFT_LIMIT`` lines keeps a paragraph in its docstring that starts with
``Size:`` and gives the reason it is one module (one state machine read as a whole, one
protocol's table of answers); past ``HARD_LIMIT`` no reason is enough and it is split.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "balupi"
SOFT_LIMIT = 400
HARD_LIMIT = 600


def _line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _states_its_size(path: Path) -> bool:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraphs = (paragraph.strip() for paragraph in docstring.split("\n\n"))
    return any(
        paragraph.startswith("Size:") and len(paragraph) > len("Size:") + 20
        for paragraph in paragraphs
    )


def test_the_sources_are_found() -> None:
    assert len(_modules()) > 100


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(SRC)))
def test_a_long_module_says_why_it_is_one(path: Path) -> None:
    lines = _line_count(path)
    assert lines <= HARD_LIMIT, f"{lines} lines: split it"
    if lines > SOFT_LIMIT:
        assert _states_its_size(path), f"{lines} lines and no 'Size:' paragraph in the docstring"
