"""``/api/health`` and ``/api/ping``: BaluHost's shape, no auth, no NAS, version headers."""

from __future__ import annotations

import socket

import httpx
import pytest
from fastapi import FastAPI

from balupi import __version__
from balupi.app import create_app
from balupi.config import Settings
from balupi.server import running_server
from tests.processes import free_port


@pytest.mark.parametrize("path", ["/api/health", "/api/ping"])
async def test_health_has_baluhost_shape_plus_hostname(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": __version__,
        "api_version": "1",
        "min_api_version": "1",
        "hostname": socket.gethostname(),
    }
    assert response.headers["X-API-Version"] == "1"
    assert response.headers["X-API-Min-Version"] == "1"


async def test_health_ignores_bearer_tokens_and_device_ids(client: httpx.AsyncClient) -> None:
    # BaluApp sends its token (possibly expired) on the health call: it must never see a 401.
    headers = {"Authorization": "Bearer expired.or.garbage", "X-Device-ID": "unknown-device"}
    response = await client.get("/api/health", headers=headers)
    assert response.status_code == 200


async def test_every_api_response_carries_version_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/does-not-exist")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    assert response.headers["X-API-Version"] == "1"


async def test_requests_get_a_request_id(client: httpx.AsyncClient) -> None:
    fresh = await client.get("/api/health")
    echoed = await client.get("/api/health", headers={"X-Request-ID": "abc-123"})
    assert len(fresh.headers["X-Request-ID"]) == 16
    assert echoed.headers["X-Request-ID"] == "abc-123"


async def test_unexpected_errors_are_json_without_traceback(app: FastAPI) -> None:
    @app.get("/api/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the pass-through catch-all
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/api/boom")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert "secret internals" not in response.text
    assert response.headers["X-API-Version"] == "1"


async def test_health_answers_while_the_nas_is_unreachable(settings: Settings) -> None:
    # Point the NAS at a port where nothing listens: health must not even try it.
    dead_port = free_port()
    settings = settings.model_copy(update={"nas_url": f"http://127.0.0.1:{dead_port}"})

    async with (
        running_server(create_app(settings)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=2) as client,
    ):
        response = await client.get("/api/health")

    assert response.status_code == 200
    assert response.elapsed.total_seconds() < 0.5
