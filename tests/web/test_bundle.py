"""The dashboard's first load stays small: HTML, scripts and styles under 300 KB gzipped."""

from __future__ import annotations

import gzip
import re

from balupi.api.routes.web import DIST
from tests.web.conftest import require

BUDGET = 300 * 1024


def test_first_load_is_under_300_kb_compressed() -> None:
    require("the dashboard build (scripts/build-dashboard)", (DIST / "index.html").is_file())
    index = (DIST / "index.html").read_text()
    loaded = ["index.html", *re.findall(r'(?:src|href)="/(assets/[^"]+)"', index)]
    assert any(name.endswith(".js") for name in loaded)
    assert any(name.endswith(".css") for name in loaded)
    sizes = {name: len(gzip.compress((DIST / name).read_bytes(), 9)) for name in loaded}
    total = sum(sizes.values())
    print(f"first load, gzip -9: {total / 1024:.1f} KB ({sizes})")
    assert total <= BUDGET


def test_every_file_has_its_gzip_twin() -> None:
    require("the dashboard build (scripts/build-dashboard)", (DIST / "index.html").is_file())
    for path in DIST.rglob("*"):
        if path.is_file() and path.suffix != ".gz":
            twin = path.with_name(path.name + ".gz")
            assert gzip.decompress(twin.read_bytes()) == path.read_bytes(), path
