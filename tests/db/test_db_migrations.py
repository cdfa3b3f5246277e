"""Migrations: any database (empty, older, current) ends at head with its data intact."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, String, make_url, select
from sqlalchemy.exc import OperationalError

from balupi.db import (
    create_engine,
    create_sessionmaker,
    current_revision,
    head_revision,
    upgrade_to_head,
)
from balupi.db.migrate import alembic_config, run_with_migration_connection, upgrade_to
from balupi.db.models import (
    Base,
    EnergyPrice,
    EnergySample,
    FileMetadata,
    NasState,
    NasTransition,
    QueueStatus,
    Server,
    TapoDevice,
    UploadQueueEntry,
    User,
)

FIRST_REVISION = "0001"


@contextmanager
def raw_sqlite(database_url: str) -> Iterator[sqlite3.Connection]:
    """The database file through the plain sqlite3 module, as an older BaluPi would see it."""
    path = make_url(database_url).database
    assert path is not None
    with closing(sqlite3.connect(path)) as connection, connection:
        yield connection


def schema_and_rows(
    database_url: str,
) -> tuple[list[tuple[str, str]], dict[str, list[tuple[object, ...]]]]:
    with raw_sqlite(database_url) as connection:
        schema = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()
        tables = [name for name, sql in schema if sql.startswith("CREATE TABLE")]
        rows = {
            table: connection.execute(f'SELECT * FROM "{table}"').fetchall() for table in tables
        }
    return schema, rows


def columns(database_url: str, table: str) -> set[str]:
    with raw_sqlite(database_url) as connection:
        return {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}


def test_models_and_migrations_agree(database_url: str) -> None:
    upgrade_to_head(database_url)

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))

    assert run_with_migration_connection(database_url, differences) == []


def test_an_empty_database_is_brought_to_head(database_url: str) -> None:
    assert current_revision(database_url) is None

    upgrade_to_head(database_url)

    assert current_revision(database_url) == head_revision() == "0006"
    schema, _ = schema_and_rows(database_url)
    tables = {name for name, sql in schema if sql.startswith("CREATE TABLE")}
    assert tables == set(Base.metadata.tables) | {"alembic_version", "sqlite_sequence"}
    # The seed's twelve, directory listings, NAS history, auth tokens, revoked refresh tokens
    # and energy alerts.
    assert len(Base.metadata.tables) == 17


def test_a_sync_sqlite_url_migrates_the_same_file(database_url: str) -> None:
    sync_url = make_url(database_url).set(drivername="sqlite").render_as_string()
    upgrade_to_head(sync_url)
    assert current_revision(database_url) == current_revision(sync_url) == head_revision()


def test_upgrading_twice_changes_nothing(database_url: str) -> None:
    upgrade_to_head(database_url)
    with raw_sqlite(database_url) as connection:
        connection.execute(
            "INSERT INTO users (id, username, role, is_active, created_at, updated_at)"
            " VALUES ('1', 'admin', 'admin', 1, '2025-01-01 00:00:00.000000', "
            "'2025-01-01 00:00:00.000000')"
        )
    before = schema_and_rows(database_url)

    upgrade_to_head(database_url)

    assert schema_and_rows(database_url) == before


def _fill_first_revision(database_url: str) -> None:
    stamp = "2025-03-01 08:00:00.000000"
    with raw_sqlite(database_url) as connection:
        connection.execute(
            "INSERT INTO users (id, username, role, is_active, password_verifier,"
            " created_at, updated_at) VALUES ('3', 'maria', 'user', 1, 'scrypt$...', ?, ?)",
            (stamp, stamp),
        )
        connection.execute(
            "INSERT INTO servers (id, name, base_url, mac_address, created_at, updated_at)"
            " VALUES (1, 'baluhost', 'http://192.0.2.10', 'AA:BB:CC:DD:EE:FF', ?, ?)",
            (stamp, stamp),
        )
        connection.execute(
            "INSERT INTO tapo_devices (id, mac_address, name, host, role, is_online,"
            " consecutive_failures, created_at, updated_at)"
            " VALUES (1, 'AA:BB:CC:00:11:22', 'NAS plug', '192.0.2.20', 'nas', 1, 0, ?, ?)",
            (stamp, stamp),
        )
        connection.execute(
            "INSERT INTO energy_samples (device_id, ts, power_mw, today_wh)"
            " VALUES (1, ?, 41500, 120)",
            (stamp,),
        )
        connection.execute(
            "INSERT INTO file_metadata_cache (path, parent_path, name, is_directory, size,"
            " checksum, owner_id, listed_at) VALUES ('maria/a.jpg', 'maria', 'a.jpg', 0, 2048,"
            " ?, '3', ?)",
            ("ab" * 32, stamp),
        )
        connection.execute(
            "INSERT INTO upload_queue (operation, status, owner_id, target_path, size, sha256,"
            " attempts, created_at, updated_at) VALUES ('upload', 'pending', '3', 'maria/b.jpg',"
            " 4096, ?, 0, ?, ?)",
            ("cd" * 32, stamp, stamp),
        )
        connection.execute(
            "INSERT INTO energy_price_config (name, price_per_kwh_micros, currency, valid_from,"
            " created_at) VALUES ('base', 318400, 'EUR', '2025-01-01', ?)",
            (stamp,),
        )


async def test_a_database_at_the_first_revision_keeps_its_data(database_url: str) -> None:
    await asyncio.to_thread(upgrade_to, database_url, FIRST_REVISION)
    _fill_first_revision(database_url)

    await asyncio.to_thread(upgrade_to_head, database_url)

    assert await asyncio.to_thread(current_revision, database_url) == head_revision()
    at = datetime(2025, 3, 1, 8, tzinfo=UTC)
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            user = await session.get(User, "3")
            assert user is not None
            assert (user.username, user.password_verifier, user.created_at) == (
                "maria",
                "scrypt$...",
                at,
            )
            server = await session.get(Server, 1)
            assert server is not None
            assert (server.base_url, server.state, server.state_since) == (
                "http://192.0.2.10",
                NasState.UNKNOWN,
                None,
            )
            sample = await session.scalar(select(EnergySample))
            assert sample is not None
            assert (sample.device_id, sample.ts, sample.power_mw, sample.today_wh) == (
                1,
                at,
                41500,
                120,
            )
            plug = await session.get(TapoDevice, 1)
            assert plug is not None
            assert plug.mac_address == "AA:BB:CC:00:11:22"
            entry = await session.scalar(select(UploadQueueEntry))
            assert entry is not None
            assert (entry.owner_id, entry.target_path, entry.status) == (
                "3",
                "maria/b.jpg",
                QueueStatus.PENDING,
            )
            listed = await session.get(FileMetadata, "maria/a.jpg")
            assert listed is not None
            assert listed.checksum == "ab" * 32
            price = await session.scalar(select(EnergyPrice))
            assert price is not None
            assert (price.price_per_kwh_micros, price.valid_from) == (
                318400,
                date(2025, 1, 1),
            )

            # The new revision's table works alongside the old rows.
            session.add(
                NasTransition(
                    server_id=1,
                    from_state=NasState.UNKNOWN,
                    to_state=NasState.ONLINE,
                    evidence="health 200",
                )
            )
            await session.commit()
    finally:
        await engine.dispose()


def test_a_failed_upgrade_leaves_the_previous_schema(database_url: str) -> None:
    upgrade_to(database_url, FIRST_REVISION)
    with raw_sqlite(database_url) as connection:
        # Something in the way of revision 0002's second step, after its first step ran.
        connection.execute("CREATE TABLE nas_transitions (id INTEGER PRIMARY KEY)")

    with pytest.raises(OperationalError, match="already exists"):
        upgrade_to_head(database_url)

    assert current_revision(database_url) == FIRST_REVISION
    assert "state" not in columns(database_url, "servers")


def test_downgrading_to_the_first_revision_and_back_keeps_the_servers(database_url: str) -> None:
    upgrade_to_head(database_url)
    with raw_sqlite(database_url) as connection:
        connection.execute(
            "INSERT INTO servers (id, name, base_url, state, created_at, updated_at)"
            " VALUES (1, 'baluhost', 'http://192.0.2.10', 'sleeping', '2025-01-01 00:00:00',"
            " '2025-01-01 00:00:00')"
        )
        connection.execute(
            "INSERT INTO nas_transitions (server_id, at, from_state, to_state)"
            " VALUES (1, '2025-01-01 00:00:00', 'online', 'sleeping')"
        )

    command.downgrade(alembic_config(database_url), FIRST_REVISION)
    assert current_revision(database_url) == FIRST_REVISION
    assert "state" not in columns(database_url, "servers")

    upgrade_to_head(database_url)
    _, rows = schema_and_rows(database_url)
    assert [row[:3] for row in rows["servers"]] == [(1, "baluhost", "http://192.0.2.10")]
    assert rows["nas_transitions"] == []


async def test_calling_from_the_event_loop_says_to_use_a_thread(database_url: str) -> None:
    with pytest.raises(RuntimeError, match="to_thread"):
        upgrade_to_head(database_url)


def test_rebuilding_a_parent_table_keeps_its_children(database_url: str) -> None:
    # SQLite alters a table by copying it and dropping the original; were foreign keys
    # enforced during migrations, dropping tapo_devices would cascade to every sample.
    upgrade_to(database_url, FIRST_REVISION)
    _fill_first_revision(database_url)

    def widen_plug_names(connection: Connection) -> None:
        operations = Operations(MigrationContext.configure(connection))
        with (
            connection.begin(),
            operations.batch_alter_table("tapo_devices", recreate="always") as batch,
        ):
            batch.alter_column("name", type_=String(length=512))

    run_with_migration_connection(database_url, widen_plug_names)

    _, rows = schema_and_rows(database_url)
    assert len(rows["energy_samples"]) == 1
    assert len(rows["tapo_devices"]) == 1
