"""Every BaluHost fact the code cites resolves inside a clone of the repository.

Comments and docs cite ``docs/compat/<file>.md §N[.M]`` for the NAS API and client behaviour
they rely on. A citation must name a file in ``docs/compat/`` and a section heading that file has;
no citation may point at the research notes that live outside the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPAT = ROOT / "docs" / "compat"
SCANNED = ("src", "tests", "bench", "deploy", "scripts", "web/src", "docs", "README.md")
SUFFIXES = {".py", ".md", ".ts", ".tsx", ".js", ".vue", ".service", ".sh", ".toml", ".cfg", ""}
PREFIX = "docs/compat/"

# A citation: the file, then one or more section numbers joined by commas, "and" or "or".
CITATION = re.compile(r"docs/compat/([\w-]+\.md)((?:(?:,|;| and| or)? *§\d+(?:\.\d+)?)+)")
SECTION = re.compile(r"§(\d+(?:\.\d+)?)")
HEADING = re.compile(r"^#+ +(\d+(?:\.\d+)?)[. ]", re.MULTILINE)
# The research notes the code once cited by bare name; only their restatements in the repo count.
OUTSIDE = re.compile(r"(?<![\w-])(nas-api|clients|prior-art|upstream-lessons|design)\.md")


def _sources() -> list[Path]:
    """Text files a reader of the repository may follow a citation from."""
    files: list[Path] = []
    for name in SCANNED:
        top = ROOT / name
        if top.is_file():
            files.append(top)
        elif top.is_dir():
            skip = ("node_modules", "__pycache__", "dist")
            files += [
                path
                for path in sorted(top.rglob("*"))
                if path.is_file()
                and path.suffix in SUFFIXES
                and not any(part in skip for part in path.parts)
            ]
    return [path for path in files if path != Path(__file__).resolve()]


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _sections(document: Path) -> set[str]:
    """The section numbers a compat page's headings carry (``## 3. Files`` → ``3``)."""
    return set(HEADING.findall(_text(document)))


def test_the_compat_pages_exist() -> None:
    for name in ("README.md", "nas-api.md", "clients.md", "nas-sleep.md"):
        assert (COMPAT / name).is_file(), name


def test_every_compat_citation_names_an_existing_section() -> None:
    broken: list[str] = []
    count = 0
    for path in _sources():
        for match in CITATION.finditer(_text(path)):
            document = COMPAT / match.group(1)
            known = _sections(document) if document.is_file() else set()
            for section in SECTION.findall(match.group(2)):
                count += 1
                if section not in known:
                    where = path.relative_to(ROOT)
                    broken.append(f"{where}: {PREFIX}{match.group(1)} §{section}")
    assert not broken, "citations of missing sections:\n" + "\n".join(broken)
    assert count > 50  # the code does cite the compat pages; a regex slip would hide that


def test_no_citation_points_outside_the_repository() -> None:
    outside: list[str] = []
    for path in _sources():
        if path.parent == COMPAT:
            continue  # the compat pages name each other by their relative file names
        text = _text(path)
        for match in OUTSIDE.finditer(text):
            if text[max(0, match.start() - len(PREFIX)) : match.start()] != PREFIX:
                line = text.count("\n", 0, match.start()) + 1
                outside.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)}")
    assert not outside, "citations of notes outside the repository:\n" + "\n".join(outside)
