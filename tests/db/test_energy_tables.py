"""The per-plug tables built from shared mixins are the tables the migrations made.

``compare_metadata`` (``test_db_migrations``) sees missing columns and wrong types, not column
order, key order or ``WITHOUT ROWID``; these three decide how the rows are stored, so they are
checked here against the migrated file.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from sqlalchemy import Table, make_url

from balupi.db import upgrade_to_head
from balupi.db.models import Base, EnergyDaily, EnergyHourly, EnergySample

TABLES: list[Table] = [
    Base.metadata.tables[model.__tablename__] for model in (EnergySample, EnergyHourly, EnergyDaily)
]


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_a_plug_series_table_matches_its_migration(database_url: str, table: Table) -> None:
    upgrade_to_head(database_url)
    path = make_url(database_url).database
    assert path is not None
    with closing(sqlite3.connect(path)) as connection:
        info = connection.execute(f'PRAGMA table_info("{table.name}")').fetchall()
        (sql,) = connection.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,)
        ).fetchone()

    migrated = [(name, bool(notnull), key) for _, name, _, notnull, _, key in info]
    keys = [column.name for column in table.primary_key.columns]
    modelled = [
        (column.name, not column.nullable, keys.index(column.name) + 1 if column.primary_key else 0)
        for column in table.columns
    ]
    assert migrated == modelled
    assert keys[0] == "device_id"
    assert sql.rstrip().upper().endswith("WITHOUT ROWID")
