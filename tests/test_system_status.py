"""``/api/system/status``: the Pi's health, collected without blocking the event loop."""

from __future__ import annotations

import asyncio
import time

import httpx

from balupi.app import create_app
from balupi.config import Settings
from balupi.server import running_server


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
    assert response.json() == {"detail": "No authentication token provided"}


async def test_health_stays_fast_during_twenty_concurrent_status_calls(
    settings: Settings, admin_headers: dict[str, str]
) -> None:
    async with (
        running_server(create_app(settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=10, headers=admin_headers) as client,
    ):
        await client.get("/api/health")  # warm the connection pool

        async def timed_health() -> float:
            started = time.perf_counter()
            response = await client.get("/api/health")
            assert response.status_code == 200
            return time.perf_counter() - started

        statuses = [asyncio.create_task(client.get("/api/system/status")) for _ in range(20)]
        health_latencies = [await timed_health() for _ in range(10)]
        results = await asyncio.gather(*statuses)

    assert all(r.status_code == 200 for r in results)
    assert max(health_latencies) < 0.1, health_latencies
