"""``BlobWriter``: a piece of chunks is written by writev and hashed, whatever the kernel takes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from balupi.services.cache.store import BlobWriter


def chunks() -> list[bytes]:
    return [os.urandom(n) for n in (65_536, 0, 1, 4096, 70_000, 3)]


def test_a_piece_lands_whole_and_hashed(tmp_path: Path) -> None:
    piece = chunks()
    writer = BlobWriter(tmp_path / "blob.part")
    writer.write(piece)
    writer.absorb(piece)
    writer.finish()

    expected = b"".join(piece)
    assert (tmp_path / "blob.part").read_bytes() == expected
    assert writer.size == len(expected)
    assert writer.hexdigest() == hashlib.sha256(expected).hexdigest()


def test_short_writes_are_resumed_where_they_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_writev = os.writev

    def at_most_1000_bytes(fd: int, buffers: list[memoryview]) -> int:
        taken, budget = [], 1000
        for buffer in buffers:
            taken.append(buffer[:budget])
            budget -= len(taken[-1])
            if not budget:
                break
        return real_writev(fd, taken)

    monkeypatch.setattr(os, "writev", at_most_1000_bytes)
    piece = chunks()
    writer = BlobWriter(tmp_path / "blob.part")
    writer.write(piece)
    writer.finish()

    assert (tmp_path / "blob.part").read_bytes() == b"".join(piece)
