"""``/api/system/status``: the Pi's health, collected without blocking the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx

from balupi.config import Settings
from tests.conftest import TEST_NAS_JWT_SECRET
from tests.processes import ServeProcess


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


async def test_health_stays_fast_during_twenty_concurrent_status_calls(
    tmp_path: Path, admin_headers: dict[str, str]
) -> None:
    """BaluPi runs as its own process, as on the Pi; the load and the probe have their own loops.

    The probe is a plain client in a thread, so what it times is the server, not the test's
    own event loop working through twenty requests of its own.
    """
    pi = ServeProcess(
        tmp_path / "serve.log",
        DATA_DIR=str(tmp_path / "data"),
        NAS_JWT_SECRET=TEST_NAS_JWT_SECRET,
        LOG_LEVEL="WARNING",
    )
    with pi.killed_at_exit():
        await pi.start()

        def probe_health() -> list[float]:
            latencies = []
            with httpx.Client(base_url=pi.url, timeout=10) as probe:
                probe.get("/api/health")  # connect before the load starts
                started.set()
                while not load_done.is_set() or len(latencies) < 10:
                    began = time.perf_counter()
                    assert probe.get("/api/health").status_code == 200
                    latencies.append(time.perf_counter() - began)
            return latencies

        started, load_done = threading.Event(), threading.Event()
        prober = asyncio.create_task(asyncio.to_thread(probe_health))
        await asyncio.to_thread(started.wait, 10)
        async with httpx.AsyncClient(base_url=pi.url, timeout=10, headers=admin_headers) as load:
            results = await asyncio.gather(*(load.get("/api/system/status") for _ in range(20)))
        load_done.set()
        health_latencies = await prober

    assert all(r.status_code == 200 for r in results)
    assert max(health_latencies) < 0.1, health_latencies
