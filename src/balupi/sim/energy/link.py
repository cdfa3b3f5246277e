"""The NAS link's filled past, read off the NAS plug's filled readings.

Awake while the plug draws at least the standby threshold, asleep below: ``NasTransition`` rows
before the link's first real one, so the awake/asleep timeline and the savings have data where the
plug history has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.db.models import NasState, NasTransition, Server
from balupi.services.energy.integration import Reading
from balupi.services.nas.power import PowerThresholds
from balupi.types import Milliwatts, Watts

# The NAS plug's default standby threshold: at or above it the NAS is running.
AWAKE_FROM_MW: Final[Milliwatts] = round(PowerThresholds().standby_below_w * 1000)
LINK_EVIDENCE: Final = "demo history: the NAS plug drew"


@dataclass(slots=True)
class LinkTrace:
    """The NAS link's states that the NAS plug's readings imply, in time order."""

    transitions: list[tuple[datetime, NasState, Watts]] = field(default_factory=list)

    def feed(self, readings: Iterable[Reading]) -> None:
        for reading in readings:
            state = NasState.ONLINE if reading.power_mw >= AWAKE_FROM_MW else NasState.SLEEPING
            if not self.transitions or self.transitions[-1][1] is not state:
                at = datetime.fromtimestamp(reading.at, UTC)
                self.transitions.append((at, state, reading.power_mw / 1000))


async def store_link_history(sessions: async_sessionmaker[AsyncSession], trace: LinkTrace) -> None:
    """The NAS link's filled past: the transitions before its first real one, once.

    Nothing is written without the NAS's ``servers`` row (BaluPi makes it on its first
    start), or when a filled past is there already.
    """
    async with sessions.begin() as session:
        server_id = await session.scalar(select(Server.id).order_by(Server.id).limit(1))
        if server_id is None:
            return
        first_real = await session.scalar(
            select(func.min(NasTransition.at)).where(NasTransition.server_id == server_id)
        )
        filled = await session.scalar(
            select(func.count())
            .select_from(NasTransition)
            .where(NasTransition.evidence.startswith(LINK_EVIDENCE))
        )
        if filled:
            return
        previous = NasState.UNKNOWN
        for at, state, watts in trace.transitions:
            if first_real is not None and at >= first_real:
                break
            session.add(
                NasTransition(
                    server_id=server_id,
                    at=at,
                    from_state=previous,
                    to_state=state,
                    evidence=f"{LINK_EVIDENCE} {watts:.1f} W",
                )
            )
            previous = state
