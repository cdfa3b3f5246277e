"""``GET /api/nas/history``: the NAS link's transitions in a window (the dashboard's timeline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from balupi.db.models import NasState
from balupi.services.container import Services

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


async def _record(app: FastAPI, *steps: tuple[timedelta, NasState]) -> None:
    services: Services = app.state.services
    previous = NasState.UNKNOWN
    for offset, state in steps:
        await services.nas_link.history.record(T0 + offset, previous, state, f"test: {state}")
        previous = state


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_lists_the_window_with_the_state_in_force_at_its_start(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await _record(
        app,
        (timedelta(hours=0), NasState.ONLINE),
        (timedelta(hours=2), NasState.SLEEPING),
        (timedelta(hours=5), NasState.WAKING),
        (timedelta(hours=5, minutes=1), NasState.ONLINE),
        (timedelta(hours=9), NasState.SLEEPING),
    )
    window = {"from": _iso(T0 + timedelta(hours=1)), "to": _iso(T0 + timedelta(hours=6))}

    answer = await client.get("/api/nas/history", params=window, headers=admin_headers)

    assert answer.status_code == 200
    body = answer.json()
    assert (body["from"], body["to"]) == (window["from"], window["to"])
    assert [(t["at"], t["to"]) for t in body["transitions"]] == [
        (_iso(T0), "online"),  # in force at 'from'
        (_iso(T0 + timedelta(hours=2)), "sleeping"),
        (_iso(T0 + timedelta(hours=5)), "waking"),
        (_iso(T0 + timedelta(hours=5, minutes=1)), "online"),
    ]  # the 9 h one is after 'to'
    assert body["transitions"][1]["from"] == "online"
    assert body["transitions"][1]["evidence"] == "test: sleeping"
    # awake: 1 h (1→2) + 59 min (5:01→6); asleep: 3 h (2→5); waking counts as neither
    assert body["awake_seconds"] == 3600 + 59 * 60
    assert body["asleep_seconds"] == 3 * 3600


async def test_needs_a_login_and_a_sane_window(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert (await client.get("/api/nas/history")).status_code == 401
    backwards = {"from": _iso(T0), "to": _iso(T0 - timedelta(hours=1))}
    too_long = {"from": _iso(T0 - timedelta(days=401)), "to": _iso(T0)}
    naive = {"from": "2026-11-20T10:00:00", "to": "2026-11-20T12:00:00"}
    for params in (backwards, too_long, naive):
        answer = await client.get("/api/nas/history", params=params, headers=admin_headers)
        assert answer.status_code == 422, params
        assert "detail" in answer.json()


async def test_defaults_to_the_last_day(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    answer = await client.get("/api/nas/history", headers=admin_headers)
    assert answer.status_code == 200
    body = answer.json()
    start = datetime.fromisoformat(body["from"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(body["to"].replace("Z", "+00:00"))
    assert end - start == timedelta(days=1)
