"""The engine: SQLite pragmas on every connection, a hard pool limit, usable sessions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from balupi.db import create_engine, create_sessionmaker, default_database_url
from balupi.db.engine import MAX_CONNECTIONS
from balupi.db.models import Base, EnergySample, User


def test_default_database_url_is_balupi_db_in_data_dir(tmp_path: Path) -> None:
    assert default_database_url(tmp_path) == f"sqlite+aiosqlite:///{tmp_path}/balupi.db"


async def _pragmas(connection: AsyncConnection) -> dict[str, Any]:
    names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "cache_size")
    values = {name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar() for name in names}
    values["mmap_size"] = (await connection.exec_driver_sql("PRAGMA mmap_size")).scalar()
    return values


async def test_every_new_connection_gets_the_pi_pragmas(engine: AsyncEngine) -> None:
    # Two connections open at once: both are new, so both must have been configured.
    async with engine.connect() as first, engine.connect() as second:
        for connection in (first, second):
            assert await _pragmas(connection) == {
                "journal_mode": "wal",
                "synchronous": 1,  # NORMAL
                "foreign_keys": 1,
                "busy_timeout": 5000,
                "cache_size": -8000,  # 8 MB
                "mmap_size": 32 * 1024 * 1024,
            }


async def test_twenty_concurrent_sessions_share_at_most_five_connections(
    engine: AsyncEngine,
) -> None:
    open_now = checked_out = peak_open = peak_checked_out = 0
    saturated = asyncio.Event()

    def opened(*_: Any) -> None:
        nonlocal open_now, peak_open
        open_now += 1
        peak_open = max(peak_open, open_now)

    def closed(*_: Any) -> None:
        nonlocal open_now
        open_now -= 1

    def checkout(*_: Any) -> None:
        nonlocal checked_out, peak_checked_out
        checked_out += 1
        peak_checked_out = max(peak_checked_out, checked_out)
        if checked_out == MAX_CONNECTIONS:
            saturated.set()

    def checkin(*_: Any) -> None:
        nonlocal checked_out
        checked_out -= 1

    for name, listener in (
        ("connect", opened),
        ("close", closed),
        ("checkout", checkout),
        ("checkin", checkin),
    ):
        event.listen(engine.sync_engine, name, listener)

    sessions = create_sessionmaker(engine)

    async def one_session(number: int) -> None:
        async with sessions() as session:
            await session.execute(select(func.count()).select_from(User))
            # Hold the connection until the pool is full, so a missing limit would show.
            await asyncio.wait_for(saturated.wait(), timeout=5)
            session.add(User(id=str(number), username=f"user{number}"))
            await session.commit()

    await asyncio.gather(*(one_session(number) for number in range(20)))

    assert peak_checked_out == MAX_CONNECTIONS == 5
    assert peak_open <= 5
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 20


async def test_foreign_keys_are_enforced(engine: AsyncEngine) -> None:
    # The earlier BaluPi declared no keys and stored samples for plugs it did not know.
    async with create_sessionmaker(engine)() as session:
        session.add(EnergySample(device_id=42, ts=datetime(2025, 1, 1, tzinfo=UTC), power_mw=1000))
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            await session.commit()


async def test_in_memory_database_works_for_quick_unit_tests() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        async with create_sessionmaker(engine)() as session:
            session.add(User(id="1", username="admin", role="admin"))
            await session.commit()
            stored = await session.get(User, "1")
            assert stored is not None
            assert stored.created_at.tzinfo is not None
    finally:
        await engine.dispose()
