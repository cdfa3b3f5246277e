"""Alembic's entry point: run the pending revisions on a connection ``migrate`` prepared.

Alembic executes this file for every command. The URL comes from the ``Config`` that
``balupi.db.migrate.alembic_config`` built; the connection (sync or async driver alike) from
``run_with_migration_connection``, so the programmatic API and Alembic's own commands
(``command.revision(..., autogenerate=True)``) take one path.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from balupi.db.migrate import check_foreign_keys, run_with_migration_connection
from balupi.db.models import Base


def _run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters most things only by rebuilding the table; batch mode does that.
        render_as_batch=True,
        # The connection emits BEGIN itself on SQLite, so DDL can be transactional there too.
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        check_foreign_keys(connection)


def _main() -> None:
    if context.is_offline_mode():
        raise SystemExit("BaluPi's migrations run against a database; --sql mode is unsupported")
    database_url = context.config.get_main_option("sqlalchemy.url")
    if not database_url:
        raise SystemExit(
            "no sqlalchemy.url: build the Config with balupi.db.migrate.alembic_config"
        )
    run_with_migration_connection(database_url, _run_migrations)


_main()
