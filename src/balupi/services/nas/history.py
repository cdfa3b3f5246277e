"""The NAS link's memory: its current state and every accepted transition, in the database.

The current state survives a restart of the Pi, so a Pi that comes back while the NAS sleeps does
not begin by polling (and waking) it. The transitions let the dashboard report uptime and sleep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.db.models import NasState, NasTransition, Server

AWAKE_STATES = frozenset({NasState.ONLINE, NasState.SHUTTING_DOWN})
ASLEEP_STATES = frozenset({NasState.SLEEPING, NasState.OFFLINE})


@dataclass(frozen=True)
class StoredState:
    server_id: int
    state: NasState
    since: datetime | None
    last_seen_at: datetime | None


@dataclass(frozen=True)
class TransitionRecord:
    at: datetime
    from_state: NasState
    to_state: NasState
    evidence: str | None


@dataclass(frozen=True)
class HistoryWindow:
    """The transitions between ``start`` and ``end`` (the first one listed is the one in force at
    ``start``, perhaps older, so the state at every instant is known) and the time awake and
    asleep in the window, summed as ``/api/nas/status``'s ``today``."""

    start: datetime
    end: datetime
    awake: timedelta
    asleep: timedelta
    transitions: list[TransitionRecord]


class LinkHistory:
    """Reads and writes the ``servers`` row of the NAS and its ``nas_transitions``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._server_id: int | None = None

    async def load(self, base_url: str, mac: str | None) -> StoredState:
        """The stored state of the NAS at ``base_url`` (creating its row on first start)."""
        async with self._sessions.begin() as session:
            server = await session.scalar(select(Server).order_by(Server.id).limit(1))
            if server is None:
                server = Server(name="BaluHost", base_url=base_url, mac_address=mac)
                session.add(server)
                await session.flush()
            else:
                server.base_url = base_url
                server.mac_address = mac
            self._server_id = server.id
            return StoredState(server.id, server.state, server.state_since, server.last_seen_at)

    async def record(
        self, at: datetime, from_state: NasState, to_state: NasState, evidence: str
    ) -> None:
        """Store one accepted transition and make it the current state, in one transaction."""
        async with self._sessions.begin() as session:
            server = await session.get(Server, self._require_server())
            assert server is not None
            server.state = to_state
            server.state_since = at
            if to_state is NasState.ONLINE:
                server.last_seen_at = at
            session.add(
                NasTransition(
                    server_id=server.id,
                    at=at,
                    from_state=from_state,
                    to_state=to_state,
                    evidence=evidence[:500],
                )
            )

    async def mark_seen(self, at: datetime) -> None:
        async with self._sessions.begin() as session:
            server = await session.get(Server, self._require_server())
            if server is not None:
                server.last_seen_at = at

    async def transitions_since(self, since: datetime) -> list[TransitionRecord]:
        """Transitions at or after ``since``, oldest first, plus the one in force at ``since``."""
        server_id = self._require_server()
        async with self._sessions() as session:
            before = await session.scalar(
                select(NasTransition)
                .where(NasTransition.server_id == server_id, NasTransition.at < since)
                .order_by(NasTransition.at.desc(), NasTransition.id.desc())
                .limit(1)
            )
            after = (
                await session.scalars(
                    select(NasTransition)
                    .where(NasTransition.server_id == server_id, NasTransition.at >= since)
                    .order_by(NasTransition.at, NasTransition.id)
                )
            ).all()
        rows = ([before] if before is not None else []) + list(after)
        return [TransitionRecord(r.at, r.from_state, r.to_state, r.evidence) for r in rows]

    async def window(self, start: datetime, end: datetime) -> HistoryWindow:
        """What ``GET /api/nas/history`` reports for ``start`` .. ``end``."""
        records = [r for r in await self.transitions_since(start) if r.at <= end]
        totals = time_by_state(records, start, end)
        return HistoryWindow(start, end, totals["awake"], totals["asleep"], records)

    def _require_server(self) -> int:
        if self._server_id is None:
            raise RuntimeError("LinkHistory.load() must run first")
        return self._server_id


def time_by_state(
    records: list[TransitionRecord],
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> dict[str, timedelta]:
    """Seconds spent awake and asleep between ``start`` and ``end``, from the transitions.

    Time before the first known transition, and in ``unknown`` or ``waking``, counts as neither.
    Nothing after ``now`` (default: the wall clock, or the last transition if that is later)
    counts: a window reaching into the future must not credit the current state with time
    that has not passed.
    """
    latest = records[-1].at if records else start
    end = min(end, max(now or datetime.now(UTC), latest))
    totals = {"awake": timedelta(), "asleep": timedelta()}
    for index, record in enumerate(records):
        begin = max(record.at, start)
        finish = records[index + 1].at if index + 1 < len(records) else end
        finish = min(finish, end)
        if finish <= begin:
            continue
        if record.to_state in AWAKE_STATES:
            totals["awake"] += finish - begin
        elif record.to_state in ASLEEP_STATES:
            totals["asleep"] += finish - begin
    return totals
