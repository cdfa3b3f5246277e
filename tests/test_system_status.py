"""``/api/system/status``: the Pi's health, collected without blocking the event loop."""

from __future__ import annotations

import asyncio

import httpx

from balupi.config import Settings


async def test_status_reports_the_machine(
    client: httpx.AsyncClient, settings: Settings, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/api/system/status", headers=admin_headers)

    assert response.status_code == 200
    body = response.json()
    assert 0 <= body["cpu_percent"] <= 100
    assert len(body["load_average"]) == 3
    assert 0 < body["memory_used_mb"] <= body["memory_total_mb"]
    assert body["temperature_c"] is None or isinstance(body["temperature_c"], float)
    assert body["disk"]["path"] == str(settings.data_dir.resolve())
    assert 0 < body["disk"]["free_bytes"] <= body["disk"]["total_bytes"]
    assert body["uptime_seconds"] > 0
    assert body["process_rss_bytes"] > 10 * 2**20
    assert body["timestamp"].endswith("Z")
    assert body["hostname"]


async def test_status_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/system/status")

    assert response.status_code == 401
    assert response.json() == {
        "detail": "No authentication token provided",
        "code": "not_authenticated",
    }


async def test_health_answers_beside_twenty_concurrent_status_calls(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """Twenty status calls at once all answer, and so does ``/api/health`` among them.

    How fast health answers meanwhile is a timing, measured against an idle reference by
    ``bench/system_status.py``; a wall-clock bound here failed on a loaded machine.
    """
    statuses = [client.get("/api/system/status", headers=admin_headers) for _ in range(20)]
    healths = [client.get("/api/health") for _ in range(5)]

    answers = await asyncio.gather(*statuses, *healths)

    assert [answer.status_code for answer in answers] == [200] * 25
    bodies = [answer.json() for answer in answers[:20]]
    assert all(body["disk"]["total_bytes"] > 0 for body in bodies)
