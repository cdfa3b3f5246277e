"""Which paths the cache holds, and as which content: in memory, mirrored to ``cached_files``.

A hit must not cost a database round trip, and access bookkeeping must not cost a write per
request (a USB SSD and SQLite's single writer would feel it). So the catalog keeps every entry
in memory (a few hundred bytes each: 10,000 cached photos are a few MB) and writes to the
database only when the set changes (a fill, an eviction, a pin, a rename): rare, and each one a
single small transaction. Hit counts and access times collect in memory and ``flush`` writes
them in one transaction: every ``flush_seconds`` and at shutdown. A crash loses at most the
counts of that interval, never an entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.db.models import CachedFile


@dataclass(slots=True)
class Entry:
    """One cached path. ``etag``/``last_modified`` are the NAS's download headers for it."""

    path: str
    size: int
    sha256: str
    etag: str | None
    last_modified: datetime | None
    created_at: datetime
    hits: int = 0
    last_access_at: datetime | None = None
    verified_at: datetime | None = None
    pinned: bool = False
    # The users who asked for the pin (empty for a pin from before owners were kept).
    pinned_by: frozenset[str] = field(default_factory=frozenset)
    # When the NAS last confirmed these bytes are current (memory only: after a restart every
    # entry is due for a check on its next access while the NAS is awake).
    validated_at: datetime | None = None

    @property
    def stored_name(self) -> str:
        return f"objects/{self.sha256[:2]}/{self.sha256}"


def under(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (``""`` is the root: everything)."""
    return not folder or path == folder or path.startswith(folder + "/")


class Catalog:
    """The cached entries by path, with per-content reference counts (for deduplication)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._entries: dict[str, Entry] = {}
        self._refs: dict[str, int] = {}  # sha256 → number of paths stored as it
        self._sizes: dict[str, int] = {}  # sha256 → bytes
        self._pending: set[str] = set()  # paths with unwritten access counts

    # -- reading ------------------------------------------------------------------------------
    def get(self, path: str) -> Entry | None:
        return self._entries.get(path)

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def references(self, sha256: str) -> int:
        return self._refs.get(sha256, 0)

    def paths_of(self, sha256: str) -> list[str]:
        return [e.path for e in self._entries.values() if e.sha256 == sha256]

    @property
    def stored_bytes(self) -> int:
        """Bytes on disk: each distinct content counted once."""
        return sum(self._sizes.values())

    def below(self, folder: str) -> list[Entry]:
        return [entry for entry in self._entries.values() if under(entry.path, folder)]

    # -- start-up -----------------------------------------------------------------------------
    async def load(self, present: dict[str, int]) -> list[Entry]:
        """Read every row; rows whose blob is missing or of the wrong size are deleted.

        Returns the loaded entries, least recently used first (the order policies admit them).
        """
        async with self._sessions() as session:
            rows = (await session.scalars(select(CachedFile))).all()
        broken = []
        for row in rows:
            if present.get(row.sha256) != row.size:
                broken.append(row.path)
                continue
            self._add(
                Entry(
                    path=row.path,
                    size=row.size,
                    sha256=row.sha256,
                    etag=row.etag,
                    last_modified=row.last_modified,
                    created_at=row.created_at,
                    hits=row.hits,
                    last_access_at=row.last_access_at,
                    verified_at=row.verified_at,
                    pinned=row.pinned,
                    pinned_by=_owners(row.pinned_by),
                )
            )
        if broken:
            await self._delete_rows(broken)
        return sorted(
            self._entries.values(), key=lambda e: (e.last_access_at or e.created_at, e.path)
        )

    # -- changes (written at once) ------------------------------------------------------------
    async def put(self, entry: Entry) -> Entry | None:
        """Store ``entry`` (replacing the path's previous content); returns what it replaced.

        A pin survives a refetch: it belongs to the path, not to one version of its bytes.
        """
        old = self._entries.get(entry.path)
        if old is not None:
            entry.pinned = entry.pinned or old.pinned
            entry.pinned_by = entry.pinned_by | old.pinned_by
            entry.hits += old.hits
        async with self._sessions.begin() as session:
            await session.merge(_row(entry))
        if old is not None:
            self._drop(old)
        self._add(entry)
        return old

    async def remove(self, paths: Iterable[str]) -> list[Entry]:
        """Forget ``paths``; returns the entries removed (their blobs may now be unreferenced)."""
        gone = [self._entries[p] for p in dict.fromkeys(paths) if p in self._entries]
        if not gone:
            return []
        await self._delete_rows([e.path for e in gone])
        for entry in gone:
            self._drop(entry)
        return gone

    async def move(self, old: str, new: str) -> list[tuple[str, Entry]]:
        """Re-key every entry at or below ``old`` to lie at or below ``new`` (a rename/move).

        Returns (old path, entry now at the new path) pairs.
        """
        moved = [(e.path, e) for e in self.below(old)]
        if not moved:
            return []
        replaced = [new + p[len(old) :] for p, _ in moved]
        async with self._sessions.begin() as session:
            await session.execute(
                delete(CachedFile).where(CachedFile.path.in_([p for p, _ in moved] + replaced))
            )
            for (old_path, entry), new_path in zip(moved, replaced, strict=True):
                self._pending.discard(old_path)
                self._entries.pop(old_path)
                entry.path = new_path
                session.add(_row(entry))
        for target in replaced:
            stale = self._entries.get(target)
            if stale is not None:
                self._drop(stale)  # a file the move overwrote
        for _, entry in moved:
            self._entries[entry.path] = entry
        return moved

    async def set_pinned(
        self, path: str, pinned: bool, by: frozenset[str] = frozenset()
    ) -> Entry | None:
        """Pin ``path`` for the users ``by`` (their claims replace the old ones), or unpin it."""
        entry = self._entries.get(path)
        if entry is None:
            return None
        owners = by if pinned else frozenset()
        async with self._sessions.begin() as session:
            await session.execute(
                update(CachedFile)
                .where(CachedFile.path == path)
                .values(pinned=pinned, pinned_by=_owners_text(owners))
            )
        entry.pinned = pinned
        entry.pinned_by = owners
        return entry

    async def set_verified(self, sha256: str, when: datetime) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(CachedFile).where(CachedFile.sha256 == sha256).values(verified_at=when)
            )
        for entry in self._entries.values():
            if entry.sha256 == sha256:
                entry.verified_at = when

    # -- access bookkeeping (batched) -----------------------------------------------------------
    def record_access(self, entry: Entry, when: datetime) -> None:
        entry.hits += 1
        entry.last_access_at = when
        self._pending.add(entry.path)

    async def flush(self) -> int:
        """Write the access counts collected since the last flush, in one transaction."""
        batch = [self._entries[p] for p in self._pending if p in self._entries]
        self._pending.clear()
        if not batch:
            return 0
        table = CachedFile.__table__
        assert isinstance(table, Table)
        statement = (
            update(table)
            .where(table.c.path == bindparam("key"))
            .values(hits=bindparam("hits"), last_access_at=bindparam("seen"))
        )
        async with self._sessions.begin() as session:
            connection = await session.connection()
            await connection.execute(
                statement,
                [{"key": e.path, "hits": e.hits, "seen": e.last_access_at} for e in batch],
            )
        return len(batch)

    # -- internals ------------------------------------------------------------------------------
    def _add(self, entry: Entry) -> None:
        self._entries[entry.path] = entry
        self._refs[entry.sha256] = self._refs.get(entry.sha256, 0) + 1
        self._sizes[entry.sha256] = entry.size

    def _drop(self, entry: Entry) -> None:
        if self._entries.get(entry.path) is entry:
            del self._entries[entry.path]
        self._pending.discard(entry.path)
        count = self._refs.get(entry.sha256, 0) - 1
        if count <= 0:
            self._refs.pop(entry.sha256, None)
            self._sizes.pop(entry.sha256, None)
        else:
            self._refs[entry.sha256] = count

    async def _delete_rows(self, paths: list[str]) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(CachedFile).where(CachedFile.path.in_(paths)))


def _row(entry: Entry) -> CachedFile:
    return CachedFile(
        path=entry.path,
        size=entry.size,
        sha256=entry.sha256,
        stored_name=entry.stored_name,
        etag=entry.etag,
        last_modified=entry.last_modified,
        hits=entry.hits,
        last_access_at=entry.last_access_at,
        created_at=entry.created_at,
        verified_at=entry.verified_at,
        hotness=0.0,
        pinned=entry.pinned,
        pinned_by=_owners_text(entry.pinned_by),
    )


def _owners(text: str | None) -> frozenset[str]:
    """``cached_files.pinned_by`` (a JSON list of user ids) as a set; unreadable is none."""
    try:
        ids = json.loads(text) if text else []
    except ValueError:
        return frozenset()
    return frozenset(str(i) for i in ids) if isinstance(ids, list) else frozenset()


def _owners_text(owners: frozenset[str]) -> str | None:
    return json.dumps(sorted(owners)) if owners else None
