"""Energy routes answer ids no row can have with a 422, never a 500 (issue 11, finding 13)."""

from __future__ import annotations

import httpx
import pytest

BEYOND_SQLITE = 14117753863996377088  # > 2**63 - 1, the largest SQLite INTEGER
TARIFF = {"name": "night", "price_per_kwh": 0.3, "valid_from": "2026-01-01"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/api/energy/history?device={BEYOND_SQLITE}", None),
        ("GET", f"/api/energy/costs?device={BEYOND_SQLITE}", None),
        ("GET", f"/api/energy/summary?device=-{BEYOND_SQLITE}", None),
        ("PUT", f"/api/energy/tariffs/{BEYOND_SQLITE}", TARIFF),
        ("DELETE", f"/api/energy/tariffs/{BEYOND_SQLITE}", None),
    ],
)
async def test_an_id_beyond_sqlite_integers_is_refused(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    method: str,
    path: str,
    body: dict[str, object] | None,
) -> None:
    response = await client.request(method, path, headers=admin_headers, json=body)
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "query",
    [
        "/api/energy/costs?date=0001-01-01",
        "/api/energy/costs?date=9999-12-31&period=year",
        "/api/energy/costs?date=9999-12-31&period=day",
        "/api/energy/history?from=0001-01-01",
        "/api/energy/history?range=year&to=9999-12-31",
        "/api/energy/history?from=0001-01-01T00:00:00Z",
        "/api/energy/history?to=9999-12-31T23:59:59%2B00:00",
    ],
)
async def test_a_date_no_calendar_arithmetic_can_reach_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], query: str
) -> None:
    response = await client.get(query, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert "detail" in response.json()
