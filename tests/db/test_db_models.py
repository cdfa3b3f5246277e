"""Schema decisions that later services rely on, checked against a migrated SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from balupi.db import create_sessionmaker
from balupi.db.models import (
    EnergySample,
    QueueStatus,
    TapoDevice,
    UploadQueueEntry,
    User,
)

CET = timezone(timedelta(hours=1))


async def test_timestamps_are_stored_as_utc_and_read_back_aware(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        session.add(
            User(id="7", username="maria", last_seen_at=datetime(2025, 3, 1, 9, tzinfo=CET))
        )
        await session.commit()
    async with sessions() as session:
        user = await session.get(User, "7")
        assert user is not None
        assert user.last_seen_at == datetime(2025, 3, 1, 8, tzinfo=UTC)
        assert user.last_seen_at is not None
        assert user.last_seen_at.tzinfo is UTC
        stored = await session.scalar(
            select(User.last_seen_at).where(
                User.last_seen_at < datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
            )
        )
        assert stored == datetime(2025, 3, 1, 8, tzinfo=UTC)


async def test_naive_datetimes_are_refused(engine: AsyncEngine) -> None:
    async with create_sessionmaker(engine)() as session:
        session.add(User(id="7", username="maria", last_seen_at=datetime(2025, 3, 1, 9)))
        with pytest.raises(StatementError, match="naive datetime"):
            await session.commit()


async def test_a_plug_is_identified_by_its_mac(engine: AsyncEngine) -> None:
    async with create_sessionmaker(engine)() as session:
        session.add(TapoDevice(mac_address="AA:BB:CC:00:11:22", name="NAS", host="10.0.0.5"))
        await session.commit()
        session.add(TapoDevice(mac_address="AA:BB:CC:00:11:22", name="again", host="10.0.0.9"))
        with pytest.raises(IntegrityError, match="UNIQUE"):
            await session.commit()


async def test_a_reading_stored_twice_is_refused_and_removing_a_plug_removes_its_samples(
    engine: AsyncEngine,
) -> None:
    sessions = create_sessionmaker(engine)
    at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    async with sessions() as session:
        plug = TapoDevice(mac_address="AA:BB:CC:00:11:22", name="NAS", host="10.0.0.5")
        session.add(plug)
        await session.flush()
        plug_id = plug.id
        session.add(EnergySample(device_id=plug_id, ts=at, power_mw=41_500, today_wh=120))
        await session.commit()
        session.add(EnergySample(device_id=plug_id, ts=at, power_mw=41_500))
        with pytest.raises(IntegrityError, match="UNIQUE"):
            await session.commit()
        await session.rollback()

        await session.execute(delete(TapoDevice).where(TapoDevice.id == plug_id))
        await session.commit()
        assert (await session.scalars(select(EnergySample))).all() == []


async def test_queue_order_survives_deleting_the_newest_entry(engine: AsyncEngine) -> None:
    # Offline mutations replay in id order; a reused id would put new work before old.
    async with create_sessionmaker(engine)() as session:
        session.add(User(id="1", username="admin"))
        entries = [UploadQueueEntry(owner_id="1", target_path=f"admin/{n}.jpg") for n in range(3)]
        session.add_all(entries)
        await session.commit()
        newest = max(entry.id for entry in entries)
        await session.delete(entries[-1])
        await session.commit()
        later = UploadQueueEntry(owner_id="1", target_path="admin/later.jpg")
        session.add(later)
        await session.commit()
        assert later.id > newest
        assert later.status is QueueStatus.PENDING


async def test_a_user_with_queued_work_cannot_be_deleted(engine: AsyncEngine) -> None:
    async with create_sessionmaker(engine)() as session:
        session.add(User(id="1", username="admin"))
        session.add(UploadQueueEntry(owner_id="1", target_path="admin/photo.jpg"))
        await session.commit()
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            await session.execute(delete(User).where(User.id == "1"))
