"""The async engine and session factory, tuned for SQLite on a Raspberry Pi 3B+.

Every new SQLite connection gets the same pragmas (``SQLITE_PRAGMAS``):

* ``journal_mode=WAL``: readers never block the one writer, and a power cut cannot corrupt
  the file; with WAL, ``synchronous=NORMAL`` is still safe (a cut may lose the last commits,
  never consistency) and saves an fsync per commit on the SD card or USB SSD;
* ``cache_size=-8000`` (8 MB of page cache per connection) and ``mmap_size`` 32 MB: enough
  for the hot energy and listing pages, small enough for a 1 GB machine;
* ``busy_timeout``: a writer that finds the database locked waits instead of failing;
* ``foreign_keys=ON``: SQLite ignores declared foreign keys unless told per connection.

The pool holds at most ``MAX_CONNECTIONS`` connections (each has its own page cache); a
sixth concurrent session waits for a free one rather than opening more.

The sqlite3 driver's default transaction handling is kept on purpose: it begins a
transaction at the first write, not the first read, so a session that reads and then writes
takes the write lock when it writes and waits ``busy_timeout`` for it, instead of failing at
once because its read snapshot went stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sqlalchemy import URL, Engine, event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

MAX_CONNECTIONS: Final = 5
BUSY_TIMEOUT_MS: Final = 5000
DATABASE_FILENAME: Final = "balupi.db"

SQLITE_PRAGMAS: Final[tuple[tuple[str, str | int], ...]] = (
    ("journal_mode", "WAL"),
    ("synchronous", "NORMAL"),
    ("cache_size", -8000),
    ("mmap_size", 32 * 1024 * 1024),
    ("busy_timeout", BUSY_TIMEOUT_MS),
)


def default_database_url(data_dir: Path) -> str:
    """The database URL used when ``DATABASE_URL`` is not set: ``DATA_DIR/balupi.db``."""
    url = URL.create("sqlite+aiosqlite", database=str(data_dir / DATABASE_FILENAME))
    return url.render_as_string(hide_password=False)


def is_sqlite(url: URL) -> bool:
    """Whether ``url`` names a SQLite database, whichever driver it uses."""
    return url.get_backend_name() == "sqlite"


def install_sqlite_pragmas(engine: Engine, *, enforce_foreign_keys: bool = True) -> None:
    """Apply ``SQLITE_PRAGMAS`` (and ``foreign_keys``) to every new connection of ``engine``.

    ``enforce_foreign_keys=False`` is for migrations only: rebuilding a table in SQLite drops
    the old one, and with enforcement on, dropping a parent table deletes (cascades) or
    refuses for every child row. Migrations check the keys themselves when they are done.
    """
    statements = [f"PRAGMA {name}={value}" for name, value in SQLITE_PRAGMAS]
    statements.append(f"PRAGMA foreign_keys={'ON' if enforce_foreign_keys else 'OFF'}")

    def apply(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()

    event.listen(engine, "connect", apply)


def _pool_options(url: URL) -> dict[str, Any]:
    # An in-memory SQLite database lives in exactly one connection (a StaticPool), which
    # takes no size options; everything else gets a queue pool capped at MAX_CONNECTIONS.
    if is_sqlite(url) and url.database in (None, "", ":memory:"):
        return {}
    return {"pool_size": MAX_CONNECTIONS, "max_overflow": 0}


def create_engine(database_url: str) -> AsyncEngine:
    """An async engine for ``database_url`` with BaluPi's pool limit and SQLite pragmas.

    Non-SQLite URLs work too (the pool limit applies, the pragmas do not). The caller owns
    the engine and must ``await engine.dispose()`` when done.
    """
    url = make_url(database_url)
    engine = _create_async_engine(url, **_pool_options(url))
    if is_sqlite(url):
        install_sqlite_pragmas(engine.sync_engine)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions bound to ``engine``; objects stay readable after commit (no lazy reloads).

    ``expire_on_commit=False`` because an async session cannot lazily reload an expired
    attribute on access; services hand committed rows to routes and must be able to read them.
    """
    return async_sessionmaker(engine, expire_on_commit=False)
