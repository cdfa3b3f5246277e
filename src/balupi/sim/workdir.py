"""Where a simulation keeps its files: the folder given, or a temporary one removed afterwards."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def kept_or_temporary(given: Path | None, prefix: str) -> Iterator[Path]:
    """``given`` (created if missing, left in place), or a fresh temporary folder."""
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as temporary:
        yield Path(temporary)
