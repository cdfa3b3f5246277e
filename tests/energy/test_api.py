"""``/api/energy/{history,costs,summary,tariffs}`` over HTTP, with logins, on a manual clock."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from balupi.api.routes.energy import HistoryPublic
from balupi.app import create_app
from balupi.clock import ManualClock
from balupi.config import Settings
from balupi.services.auth import jwt
from balupi.services.container import Services
from balupi.services.energy import EnergyService, TariffDraft
from tests.conftest import TEST_NAS_JWT_SECRET
from tests.energy.plugs import add_plug, berlin, steady_hours

Headers = dict[str, str]


def token(clock: ManualClock, role: str) -> Headers:
    """A NAS access token for ``role``, valid for 15 minutes on the app's clock."""
    now = int(clock.now().timestamp())
    user_id = {"admin": "1", "user": "2"}[role]
    claims = {"sub": user_id, "username": role, "role": role, "type": "access", "exp": now + 900}
    return {"Authorization": f"Bearer {jwt.encode(claims, TEST_NAS_JWT_SECRET)}"}


@pytest.fixture
async def app(
    settings: Settings, clock: ManualClock, migrated_database: Path
) -> AsyncIterator[FastAPI]:
    """BaluPi on the test's clock, its database copied from the migrated template."""
    settings.data_dir.mkdir(parents=True)
    shutil.copyfile(migrated_database, settings.data_dir / "balupi.db")
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def services(app: FastAPI) -> Services:
    found: Services = app.state.services
    return found


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://balupi.test") as client:
        yield client


@pytest.fixture
def admin(clock: ManualClock) -> Headers:
    return token(clock, "admin")


@pytest.fixture
def user(clock: ManualClock) -> Headers:
    return token(clock, "user")


async def test_reading_needs_a_login_and_changing_tariffs_an_admin(
    http: httpx.AsyncClient, admin: Headers, user: Headers
) -> None:
    for path in ("/api/energy/history", "/api/energy/costs", "/api/energy/summary"):
        assert (await http.get(path)).status_code == 401
        assert (await http.get(path, headers=user)).status_code == 200
    body = {"name": "flat", "price_per_kwh": 0.3, "valid_from": "2026-01-01"}
    assert (await http.post("/api/energy/tariffs", json=body)).status_code == 401
    refused = await http.post("/api/energy/tariffs", json=body, headers=user)
    assert refused.status_code == 403
    assert (await http.post("/api/energy/tariffs", json=body, headers=admin)).status_code == 201


async def test_tariffs_are_managed_with_validation(
    http: httpx.AsyncClient, admin: Headers, user: Headers
) -> None:
    url = "/api/energy/tariffs"
    base = {"name": "Arbeitspreis", "price_per_kwh": "0.3412", "valid_from": "2026-01-01"}
    created = await http.post(url, json=base, headers=admin)
    assert created.status_code == 201
    first = created.json()["tariff"]
    assert first["price_per_kwh_micros"] == 341_200
    assert first["currency"] == "EUR"

    night = {
        **base,
        "name": "Nacht",
        "price_per_kwh": 0.25,
        "starts_at": "22:00",
        "ends_at": "06:00",
    }
    assert (await http.post(url, json=night, headers=admin)).status_code == 201
    newer = await http.post(url, json={**base, "valid_from": "2026-03-01"}, headers=admin)
    assert newer.json()["superseded"][0]["valid_until"] == "2026-03-01"

    clash = await http.post(
        url, json={**night, "starts_at": "05:00", "ends_at": "07:00"}, headers=admin
    )
    assert clash.status_code == 409
    assert "overlaps" in clash.json()["detail"]
    for bad in (
        {**night, "ends_at": "22:00"},
        {**base, "price_per_kwh": "0.1234567"},
        {**base, "valid_until": "2025-12-31"},
        {**base, "price_per_kwh": -1},
    ):
        assert (await http.post(url, json=bad, headers=admin)).status_code == 422, bad

    listed = (await http.get(url, headers=user)).json()
    assert [t["name"] for t in listed] == ["Arbeitspreis", "Nacht", "Arbeitspreis"]
    assert listed[1]["starts_at"] == "22:00"

    changed = await http.put(
        f"{url}/{first['id']}",
        json={**base, "valid_until": "2026-03-01", "price_per_kwh": 0.35},
        headers=admin,
    )
    assert changed.status_code == 200
    assert changed.json()["price_per_kwh"] == 0.35
    deleted = await http.delete(f"{url}/{first['id']}", headers=admin)
    assert deleted.status_code == 200
    assert deleted.json()["id"] == first["id"]
    assert (await http.delete(f"{url}/{first['id']}", headers=admin)).status_code == 404


async def test_history_costs_and_summary_answer_in_wh_w_and_money(
    http: httpx.AsyncClient, services: Services, clock: ManualClock, user: Headers
) -> None:
    energy: EnergyService = services.energy
    await energy.tariffs.create(TariffDraft("flat", 300_000, valid_from=berlin(2025, 1, 1).date()))
    plugs = [await add_plug(services.sessions, name) for name in ("nas", "monitor")]
    for watts, plug in zip((20, 40), plugs, strict=True):
        await steady_hours(energy, services.sessions, plug, watts, berlin(2026, 1, 1), clock.now())
    await energy.roll_up()

    month = (await http.get("/api/energy/history", params={"range": "month"}, headers=user)).json()
    HistoryPublic.model_validate(month)  # the documented shape
    assert month["resolution"] == "day"
    assert month["from"].endswith("Z")
    assert month["timezone"] == "Europe/Berlin"
    nas = month["series"][0]
    assert nas["device"] == {"id": plugs[0], "name": "nas", "role": "generic"}
    assert nas["points"][-1]["day"] == "2026-01-14"
    assert nas["points"][-2]["energy_wh"] == 480.0
    assert nas["points"][-2]["avg_power_w"] == 20.0
    assert nas["points"][-2]["cost"] == pytest.approx(0.144)
    assert month["total"][-2]["energy_wh"] == 1440.0

    week = await http.get(
        "/api/energy/history",
        params={"range": "week", "device": plugs[1], "from": "2026-01-13", "to": "2026-01-14"},
        headers=user,
    )
    assert week.status_code == 200
    points = week.json()["series"][0]["points"]
    assert len(points) == 24
    assert points[0]["start"] == "2026-01-12T23:00:00Z"
    naive = {"range": "day", "from": "2026-01-14T08:00:00"}
    assert (await http.get("/api/energy/history", params=naive, headers=user)).status_code == 422
    unknown = {"range": "week", "device": 99}
    assert (await http.get("/api/energy/history", params=unknown, headers=user)).status_code == 404
    assert (
        await http.get("/api/energy/history", params={"range": "decade"}, headers=user)
    ).status_code == 422

    costs = (await http.get("/api/energy/costs", params={"period": "month"}, headers=user)).json()
    assert costs["first_day"] == "2026-01-01"
    assert costs["last_day"] == "2026-01-31"
    assert costs["currency"] == "EUR"
    assert costs["total"]["energy_wh"] == pytest.approx(13.5 * 1440)
    assert costs["total"]["cost"] == pytest.approx(13.5 * 1.44 * 0.3, abs=0.001)
    assert len(costs["breakdown"]) == 14

    summary = (await http.get("/api/energy/summary", params={"days": 7}, headers=user)).json()
    assert summary["window"] == {"first_day": "2026-01-07", "last_day": "2026-01-13", "days": 7}
    assert summary["total"]["avg_power_w"] == pytest.approx(60.0)
    assert summary["total"]["avg_daily_energy_wh"] == pytest.approx(1440.0)
    projected = [d["month_projected"]["energy_wh"] for d in summary["devices"]]
    assert summary["total"]["month_projected"]["energy_wh"] == pytest.approx(sum(projected))
    assert summary["total"]["month_projected"]["energy_wh"] == pytest.approx(31 * 1440, rel=0.001)
    assert summary["generated_at"] == "2026-01-14T11:00:00Z"
