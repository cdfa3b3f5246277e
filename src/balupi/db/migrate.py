"""Bring a database to the schema this code expects, with Alembic configured in code.

No ``alembic.ini`` is needed: the scripts ship inside the package (``migrations/``) and are
found from this file, so an installed wheel migrates its own database. ``balupi db upgrade``
and the service's start-up both call ``upgrade_to_head``; it is synchronous (Alembic is) and
runs its own event loop for async URLs, so async callers run it in a thread
(``await asyncio.to_thread(upgrade_to_head, url)``).

Migrations on SQLite run in one transaction (SQLite has transactional DDL; the sqlite3
driver just does not use it by default), so a power cut mid-upgrade leaves the previous
schema, not half of the next one. Foreign keys are not enforced while tables are rebuilt
and are checked before the commit instead.

Writing a new revision (autogenerate, then read and edit what it wrote)::

    from alembic import command
    from balupi.db.migrate import alembic_config
    config = alembic_config("sqlite+aiosqlite:///scratch.db")  # a database at head
    command.revision(config, message="what changes", autogenerate=True, rev_id="0003")

Alembic (with Mako) is imported only when there is something to migrate: a start on a SQLite
database already at head reads its one ``alembic_version`` row with ``sqlite3`` and compares it
with the newest revision file shipped, which costs a Pi milliseconds instead of seconds and
megabytes (issue 14).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sqlalchemy import URL, Connection, Engine, NullPool, event, make_url
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import create_async_engine

from balupi.db.engine import install_sqlite_pragmas, is_sqlite

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
_REVISION_LINE = re.compile(
    r"^(?P<key>revision|down_revision)\b[^=\n]*=\s*(?:[\"'](?P<id>[^\"']+)[\"']|None)", re.M
)

T = TypeVar("T")


def alembic_config(database_url: str) -> Config:
    """An Alembic ``Config`` for ``database_url`` using the migrations shipped in the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%'; a URL may contain it (percent-encoded passwords).
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return config


def head_revision() -> str:
    """The newest revision shipped with this code."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:  # only possible if the versions directory did not ship
        raise RuntimeError(f"no Alembic revisions found in {MIGRATIONS_DIR}")
    return head


def upgrade_to(database_url: str, revision: str) -> None:
    """Upgrade the database to ``revision`` (creating the file if needed)."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def upgrade_to_head(database_url: str) -> None:
    """Upgrade an empty or older database to ``head_revision()``; a no-op when already there
    (told without importing Alembic for a SQLite file, see ``sqlite_at_head``)."""
    if sqlite_at_head(database_url):
        return
    upgrade_to(database_url, "head")


def sqlite_at_head(database_url: str) -> bool:
    """Whether ``database_url`` is a SQLite file whose revision is the shipped head.

    False whenever that cannot be told cheaply (another database, no file yet, no version
    table, a locked or unreadable file): Alembic then decides, as it always did.
    """
    url = make_url(database_url)
    head = _shipped_head()
    if not is_sqlite(url) or not url.database or url.database == ":memory:" or head is None:
        return False
    path = Path(url.database)
    if not path.is_file():
        return False
    try:
        connection = sqlite3.connect(path, timeout=5)
        try:
            rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        return False
    return rows == [(head,)]


@cache
def _shipped_head() -> str | None:
    """The head of the revision files shipped, read as text (Alembic parses them the same way
    for ``head_revision``); None unless there is exactly one head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for found in _REVISION_LINE.finditer(script.read_text(encoding="utf-8")):
            if found["id"] is not None:
                (revisions if found["key"] == "revision" else parents).add(found["id"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or ``None`` for a database never migrated (or new)."""
    from alembic.runtime.migration import MigrationContext

    return run_with_migration_connection(
        database_url,
        lambda connection: MigrationContext.configure(connection).get_current_revision(),
    )


def run_with_migration_connection(database_url: str, work: Callable[[Connection], T]) -> T:
    """Run ``work`` on a fresh synchronous connection prepared for migrations; return its result.

    Works with async URLs (``sqlite+aiosqlite``: run on its own event loop through
    ``run_sync``) and sync ones (``sqlite``). The connection is closed afterwards and no pool
    is kept, so nothing outlives the call. Alembic's ``env.py`` uses this too.
    """
    url = make_url(database_url)
    if url.get_dialect().is_async:
        if _event_loop_running():
            raise RuntimeError(
                "migrations block; from async code run them in a thread: "
                "await asyncio.to_thread(upgrade_to_head, url)"
            )
        return asyncio.run(_run_async(url, work))
    engine = create_sync_engine(url, poolclass=NullPool)
    _prepare_for_migrations(engine)
    try:
        with engine.connect() as connection:
            return work(connection)
    finally:
        engine.dispose()


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _run_async(url: URL, work: Callable[[Connection], T]) -> T:
    engine = create_async_engine(url, poolclass=NullPool)
    _prepare_for_migrations(engine.sync_engine)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def _prepare_for_migrations(engine: Engine) -> None:
    if not is_sqlite(engine.url):
        return
    install_sqlite_pragmas(engine, enforce_foreign_keys=False)

    # Take transaction control from the sqlite3 driver, which would otherwise run DDL outside
    # any transaction, and emit BEGIN ourselves so the whole upgrade commits or rolls back.
    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    # IMMEDIATE takes the write lock up front: a concurrent writer makes the upgrade wait
    # (busy_timeout) instead of failing halfway when its read snapshot goes stale.
    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def check_foreign_keys(connection: Connection) -> None:
    """Raise if any row refers to a missing parent (SQLite only; others enforce it always)."""
    if connection.dialect.name != "sqlite":
        return
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        shown = ", ".join(
            f"{table} rowid {rowid} -> {parent}" for table, rowid, parent, _ in violations[:5]
        )
        raise RuntimeError(f"migration left {len(violations)} broken foreign keys: {shown}")
