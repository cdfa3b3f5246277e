"""``GET /api/nas/history`` counts no time after now, whatever ``to`` asks for (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from balupi.db.models import NasState
from balupi.services.container import Services
from balupi.services.nas.history import TransitionRecord, time_by_state


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_a_window_reaching_into_the_future_stops_at_now(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    services: Services = app.state.services
    now = datetime.now(UTC)
    await services.nas_link.history.record(
        now - timedelta(minutes=6), NasState.UNKNOWN, NasState.ONLINE, "test: online"
    )
    window = {"from": _iso(now - timedelta(hours=1)), "to": _iso(now + timedelta(days=1))}

    answer = await client.get("/api/nas/history", params=window, headers=admin_headers)

    assert answer.status_code == 200, answer.text
    assert 6 * 60 - 5 <= answer.json()["awake_seconds"] <= 8 * 60  # not 25 hours


def test_time_by_state_ends_at_the_given_now() -> None:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    records = [TransitionRecord(start, NasState.UNKNOWN, NasState.SLEEPING, None)]
    totals = time_by_state(
        records, start, start + timedelta(days=30), now=start + timedelta(hours=2)
    )
    assert totals["asleep"] == timedelta(hours=2)
