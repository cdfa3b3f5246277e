"""``MetadataStore``: what the NAS listed, kept so folders stay browsable while it sleeps.

Two tables (``db/models/files.py``): ``file_metadata_cache`` holds one row per path the NAS
listed, as it last listed it; ``directory_listings`` records which user the NAS listed which
folder for, and when. The second is what makes offline answers safe: a folder is answered from
the cache only for a user it was listed for (or an admin's listing the user may see), and the
folders the NAS listed for a user outside ``Shared`` and their home are the shares it granted.

A path and everything below it form a *tree*; trees are selected with the range
``path >= p + "/" and path < p + "0"`` (``"0"`` follows ``"/"``), which uses the primary key's
index and needs no ``LIKE`` escaping.

Writes go through one lock: SQLite has one writer anyway, and two concurrent listings of the
same folder would otherwise race to insert the same new rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, String, and_, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from balupi.clock import Clock
from balupi.db.models import DirectoryListing, FileMetadata, User
from balupi.services.files.items import NasEntry
from balupi.services.files.paths import name_of, parent_of


@dataclass(frozen=True)
class ListingRecord:
    """The NAS listed a folder for ``user_id`` (an admin or not) at ``listed_at``."""

    user_id: str
    by_admin: bool
    listed_at: datetime


def in_tree(column: InstrumentedAttribute[str], path: str) -> ColumnElement[bool]:
    """``column`` is ``path`` or lies below it."""
    return or_(column == path, _below(column, path))


def _below(column: InstrumentedAttribute[str], path: str) -> ColumnElement[bool]:
    """``column`` lies strictly below ``path`` ('0' sorts right after '/')."""
    return and_(column >= path + "/", column < path + "0")


class MetadataStore:
    """Reads and writes the metadata cache; each method is one short transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._writes = asyncio.Lock()

    # -- reads --------------------------------------------------------------------------------
    async def entry(self, path: str) -> FileMetadata | None:
        """The NAS's last word on ``path`` (size, mtime, checksum, owner …), or None."""
        async with self._sessions() as session:
            return await session.get(FileMetadata, path)

    async def by_file_id(self, file_id: int) -> FileMetadata | None:
        """The entry the NAS last listed with ``file_id`` (the newest, if stale rows remain)."""
        async with self._sessions() as session:
            return await session.scalar(
                select(FileMetadata)
                .where(FileMetadata.file_id == file_id)
                .order_by(FileMetadata.listed_at.desc())
                .limit(1)
            )

    async def children(self, directory: str) -> list[FileMetadata]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(FileMetadata).where(FileMetadata.parent_path == directory)
            )
            return list(rows)

    async def listings(self, directory: str) -> list[ListingRecord]:
        """Every user the NAS listed ``directory`` for, with whether they are admins."""
        async with self._sessions() as session:
            result = await session.execute(
                select(DirectoryListing.user_id, User.role, DirectoryListing.listed_at)
                .join(User, User.id == DirectoryListing.user_id)
                .where(DirectoryListing.path == directory)
            )
            return [ListingRecord(uid, role == "admin", at) for uid, role, at in result]

    async def was_listed(self, directory: str) -> bool:
        """Whether the NAS ever listed ``directory`` for anyone."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(DirectoryListing.path).where(DirectoryListing.path == directory).limit(1)
            )
            return found is not None

    async def listed_folders(self, user_id: str) -> list[str]:
        """Every folder the NAS listed for ``user_id``."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(DirectoryListing.path).where(DirectoryListing.user_id == user_id)
            )
            return list(rows)

    # -- writes -------------------------------------------------------------------------------
    async def record_listing(
        self,
        directory: str,
        entries: Sequence[NasEntry],
        *,
        user_id: str,
        lister_saw: Callable[[FileMetadata], bool],
    ) -> list[str]:
        """Store the NAS's listing of ``directory`` for ``user_id``; the paths that vanished.

        A known child missing from the answer is gone (with its tree) only if ``lister_saw``
        it: the NAS hides from a user what they may not see, and that is no deletion.
        """
        now = self._clock.now()
        async with self._writes, self._sessions.begin() as session:
            existing = {
                row.path: row
                for row in await session.scalars(
                    select(FileMetadata).where(FileMetadata.parent_path == directory)
                )
            }
            await session.execute(
                update(FileMetadata)
                .where(FileMetadata.parent_path == directory)
                .values(listed_at=now)
                .execution_options(synchronize_session=False)
            )
            listed = set()
            for entry in entries:
                listed.add(entry.path)
                row = existing.get(entry.path)
                if row is None:
                    session.add(_new_row(entry, now))
                    continue
                if row.is_directory and not entry.is_directory:
                    await _delete_below(session, entry.path)  # a folder became a file
                _update_row(row, entry)
            vanished = [
                path for path, row in existing.items() if path not in listed and lister_saw(row)
            ]
            for path in vanished:
                await _delete_tree(session, path)
            await _mark_listed(session, directory, user_id, now)
        return vanished

    async def record_visit(self, directory: str, user_id: str) -> None:
        """The NAS listed ``directory`` for ``user_id`` but its items are not kept (a virtual
        folder, such as a normal user's root)."""
        now = self._clock.now()
        async with self._writes, self._sessions.begin() as session:
            await _mark_listed(session, directory, user_id, now)

    async def remove_tree(self, path: str) -> None:
        """``path`` and everything below it are gone from the NAS."""
        async with self._writes, self._sessions.begin() as session:
            await _delete_tree(session, path)

    async def move_tree(self, old: str, new: str) -> None:
        """``old`` and everything below it now live at ``new`` (what was at ``new`` is gone)."""
        if old == new:
            return
        start = len(old) + 1  # SQL substr() counts from 1: the rest after ``old``
        async with self._writes, self._sessions.begin() as session:
            await _delete_tree(session, new)
            await session.execute(
                update(FileMetadata)
                .where(FileMetadata.path == old)
                .values(path=new, parent_path=parent_of(new), name=name_of(new))
                .execution_options(synchronize_session=False)
            )
            await session.execute(
                update(FileMetadata)
                .where(_below(FileMetadata.path, old))
                .values(
                    path=_rebased(new, FileMetadata.path, start),
                    parent_path=_rebased(new, FileMetadata.parent_path, start),
                )
                .execution_options(synchronize_session=False)
            )
            await session.execute(
                update(DirectoryListing)
                .where(in_tree(DirectoryListing.path, old))
                .values(path=_rebased(new, DirectoryListing.path, start))
                .execution_options(synchronize_session=False)
            )


def _rebased(new: str, column: InstrumentedAttribute[str], start: int) -> ColumnElement[str]:
    return literal(new, String) + func.substr(column, start)


def _new_row(entry: NasEntry, now: datetime) -> FileMetadata:
    row = FileMetadata(path=entry.path, parent_path=entry.parent_path, listed_at=now)
    _update_row(row, entry)
    return row


def _update_row(row: FileMetadata, entry: NasEntry) -> None:
    # Assigning an unchanged value emits no UPDATE: only what the NAS changed is written.
    row.name = entry.name
    row.is_directory = entry.is_directory
    row.size = entry.size
    row.mtime = entry.mtime
    row.checksum = entry.checksum
    row.file_id = entry.file_id
    row.owner_id = entry.owner_id
    row.owner_name = entry.owner_name
    row.mime_type = entry.mime_type


PathFilter = Callable[[InstrumentedAttribute[str], str], ColumnElement[bool]]


async def _delete_below(session: AsyncSession, path: str) -> None:
    """Forget what lies below ``path`` (it became a file), keeping its own row."""
    await _delete_paths(session, _below, path)


async def _delete_tree(session: AsyncSession, path: str) -> None:
    """Forget ``path`` and everything below it."""
    await _delete_paths(session, in_tree, path)


async def _delete_paths(session: AsyncSession, matches: PathFilter, path: str) -> None:
    """Delete the items and the listing marks whose path ``matches(column, path)``."""
    for table in (FileMetadata, DirectoryListing):
        await session.execute(
            delete(table)
            .where(matches(table.path, path))
            .execution_options(synchronize_session=False)
        )


async def _mark_listed(session: AsyncSession, directory: str, user_id: str, now: datetime) -> None:
    row = await session.get(DirectoryListing, (directory, user_id))
    if row is None:
        session.add(DirectoryListing(path=directory, user_id=user_id, listed_at=now))
    else:
        row.listed_at = now
