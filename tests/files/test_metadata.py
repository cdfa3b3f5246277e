"""The metadata store's tree operations, on a real (migrated) SQLite database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from balupi.clock import ManualClock
from balupi.db.engine import create_engine, create_sessionmaker
from balupi.db.migrate import upgrade_to_head
from balupi.db.models import User
from balupi.services.files.items import NasEntry
from balupi.services.files.metadata import MetadataStore

PATHS = [
    "a",
    "a/docs",
    "a/docs/x.txt",
    "a/docs/sub",
    "a/docs/sub/y.txt",
    "a/docs2",
    "a/docs2/z",
    "a/docs.txt",
]


def entry(path: str, *, directory: bool = False) -> NasEntry:
    return NasEntry(
        path=path,
        name=path.rpartition("/")[2],
        is_directory=directory,
        size=1,
        mtime=datetime(2026, 1, 1, tzinfo=UTC),
        checksum=None,
        file_id=None,
        owner_id="7",
        owner_name="alice",
        mime_type=None,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[MetadataStore]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'files.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with sessions.begin() as session:
        session.add(User(id="7", username="alice", role="user"))
    metadata = MetadataStore(sessions, ManualClock())
    for folder in ("", "a", "a/docs", "a/docs/sub", "a/docs2"):
        children = [p for p in PATHS if p.rpartition("/")[0] == folder]
        entries = [entry(p, directory="." not in p.rpartition("/")[2]) for p in children]
        await metadata.record_listing(folder, entries, user_id="7", lister_saw=lambda row: True)
    yield metadata
    await engine.dispose()


async def tree(store: MetadataStore, folder: str = "") -> list[str]:
    found = []
    for row in await store.children(folder):
        found.append(row.path)
        found.extend(await tree(store, row.path))
    return sorted(found)


async def test_move_tree_moves_a_folder_and_nothing_that_only_shares_its_prefix(
    store: MetadataStore,
) -> None:
    await store.move_tree("a/docs", "b/moved")

    assert await tree(store, "a") == ["a/docs.txt", "a/docs2", "a/docs2/z"]
    assert await tree(store, "b/moved") == ["b/moved/sub", "b/moved/sub/y.txt", "b/moved/x.txt"]
    assert sorted(await store.listed_folders("7")) == ["", "a", "a/docs2", "b/moved", "b/moved/sub"]
    moved = await store.entry("b/moved")
    assert moved is not None
    assert (moved.name, moved.parent_path) == ("moved", "b")


async def test_remove_tree_removes_a_folder_and_nothing_that_only_shares_its_prefix(
    store: MetadataStore,
) -> None:
    await store.remove_tree("a/docs")

    assert await tree(store) == ["a", "a/docs.txt", "a/docs2", "a/docs2/z"]
    assert sorted(await store.listed_folders("7")) == ["", "a", "a/docs2"]


async def test_a_listing_drops_only_vanished_children_the_lister_could_see(
    store: MetadataStore,
) -> None:
    vanished = await store.record_listing(
        "a",
        [entry("a/docs2", directory=True)],
        user_id="7",
        lister_saw=lambda r: r.path != "a/docs",
    )

    assert vanished == ["a/docs.txt"]
    assert await tree(store, "a") == [
        "a/docs",
        "a/docs/sub",
        "a/docs/sub/y.txt",
        "a/docs/x.txt",
        "a/docs2",
        "a/docs2/z",
    ]
