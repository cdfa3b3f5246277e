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
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, NullPool, event, make_url
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import create_async_engine

from balupi.db.engine import install_sqlite_pragmas, is_sqlite

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"

T = TypeVar("T")


def alembic_config(database_url: str) -> Config:
    """An Alembic ``Config`` for ``database_url`` using the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%'; a URL may contain it (percent-encoded passwords).
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return config


def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:  # only possible if the versions directory did not ship
        raise RuntimeError(f"no Alembic revisions found in {MIGRATIONS_DIR}")
    return head


def upgrade_to(database_url: str, revision: str) -> None:
    """Upgrade the database to ``revision`` (creating the file if needed)."""
    command.upgrade(alembic_config(database_url), revision)


def upgrade_to_head(database_url: str) -> None:
    """Upgrade an empty or older database to ``head_revision()``; a no-op when already there."""
    upgrade_to(database_url, "head")


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or ``None`` for a database never migrated (or new)."""
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
