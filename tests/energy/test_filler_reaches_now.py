"""The filled history reaches the plugs' first live data, and the NAS link gets the past its
plug's draw implies (issue 13: the demo's history ended at midnight, its timeline was unknown)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import ManualClock
from balupi.db.models import (
    DeviceRole,
    EnergyHourly,
    EnergySample,
    NasState,
    NasTransition,
    Server,
    TapoDevice,
)
from balupi.services.energy import EnergyService
from balupi.sim.energy import HistoryFiller
from tests.energy.plugs import POLL_SECONDS, berlin, constant, sample, store


async def _nas_plug_and_server(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        session.add(Server(name="BaluHost", base_url="http://nas"))
        plug = TapoDevice(
            mac_address="02:42:00:00:00:01",
            name="NAS",
            host="127.0.0.1",
            model="P110",
            role=DeviceRole.NAS,
        )
        session.add(plug)
        await session.flush()
        return plug.id


async def test_the_history_reaches_the_first_live_reading_and_the_link_follows_the_plug(
    energy: EnergyService, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    plug = await _nas_plug_and_server(sessions)
    live_from = berlin(2026, 1, 14, 11, 20)  # the demo started at 11:20
    await store(sessions, plug, sample(constant(52), live_from, clock.now()))
    async with sessions.begin() as session:
        server_id = await session.scalar(select(Server.id))
        assert server_id is not None
        session.add(
            NasTransition(
                server_id=server_id,
                at=live_from,
                from_state=NasState.UNKNOWN,
                to_state=NasState.ONLINE,
                evidence="health check answered",
            )
        )

    await HistoryFiller(energy, sessions, clock, poll_seconds=POLL_SECONDS, seed=3).fill(3)

    async with sessions() as session:
        newest_hour = await session.scalar(
            select(func.max(EnergyHourly.hour_start)).where(
                EnergyHourly.hour_start < berlin(2026, 1, 14, 11)
            )
        )
        filled_before_live = await session.scalar(
            select(func.max(EnergySample.ts)).where(EnergySample.ts < live_from)
        )
        transitions = (
            await session.scalars(select(NasTransition).order_by(NasTransition.at))
        ).all()
    assert newest_hour == berlin(2026, 1, 14, 10)  # not the end of yesterday
    assert filled_before_live is not None
    assert live_from - filled_before_live < timedelta(seconds=2 * POLL_SECONDS)

    filled, real = transitions[:-1], transitions[-1]
    assert real.evidence == "health check answered"  # untouched, still the last
    assert len(filled) > 6  # three days of evenings awake
    assert filled[0].at >= berlin(2026, 1, 11)
    assert all(t.at < live_from for t in filled)
    assert {t.to_state for t in filled} == {NasState.ONLINE, NasState.SLEEPING}
    for before, after in itertools.pairwise(filled):
        assert after.from_state is before.to_state
    # Awake hours drew well above standby, asleep ones below it.
    async with sessions() as session:
        stored = await session.scalars(select(EnergyHourly).where(EnergyHourly.device_id == plug))
        hours = {h.hour_start: h.avg_power_mw for h in stored}
    for this, following in itertools.pairwise(filled):
        whole = [
            mw
            for start, mw in hours.items()
            if this.at <= start and start + timedelta(hours=1) <= following.at
        ]
        if this.to_state is NasState.ONLINE:
            assert all(mw >= 15_000 for mw in whole)
        else:
            assert all(mw < 15_000 for mw in whole)

    # A second fill adds no second past.
    await HistoryFiller(energy, sessions, clock, poll_seconds=POLL_SECONDS, seed=3).fill(3)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(NasTransition)) == len(
            transitions
        )
