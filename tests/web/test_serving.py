"""Serving the dashboard: files from ``dist``, the app's pages, and nothing else.

The earlier BaluPi's fallback served ``/etc/hostname`` to ``GET /../../etc/hostname`` on a bare
Uvicorn. The traversal tests here send raw request lines over a real
socket, because HTTP clients normalise ``..`` away before sending.
"""

from __future__ import annotations

import asyncio
import gzip
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from balupi.api.routes.web import NOT_BUILT, create_router
from balupi.server import running_server

INDEX = b"<!doctype html><title>BaluPi</title><div id=app></div>"
SCRIPT = b"console.log('dashboard');\n" * 50
SECRET = b"a file outside dist\n"


@dataclass
class Site:
    dist: Path
    secret: Path
    url: str


def make_dist(root: Path) -> Path:
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_bytes(INDEX)
    (dist / "index.html.gz").write_bytes(gzip.compress(INDEX))
    (dist / "assets" / "index-abc123.js").write_bytes(SCRIPT)
    (dist / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(SCRIPT))
    (dist / ".env").write_bytes(b"SECRET=1\n")
    return dist


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    dist = make_dist(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    os.symlink(secret, dist / "assets" / "link.txt")  # a link out of dist
    app = FastAPI()
    app.include_router(create_router(dist))
    async with running_server(app) as server:
        yield Site(dist, secret, server.url)


async def raw_get(url: str, target: str) -> tuple[int, bytes]:
    """Send ``GET target`` exactly as written (no normalisation); the status and the body."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def test_the_root_and_every_page_of_the_app_are_its_index(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as client:
        for path in ("/", "/energy", "/devices", "/some/deep/page"):
            response = await client.get(path, headers={"Accept-Encoding": "identity"})
            assert response.status_code == 200, path
            assert response.content == INDEX
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["cache-control"] == "no-cache"


async def test_assets_are_served_gzipped_to_who_accepts_it_and_cached_for_good(
    site: Site,
) -> None:
    async with httpx.AsyncClient(base_url=site.url) as client:
        zipped = await client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
        plain = await client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "br"})
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == SCRIPT  # httpx undoes the gzip
    assert int(zipped.headers["content-length"]) < len(SCRIPT)
    assert "content-encoding" not in plain.headers
    assert plain.content == SCRIPT
    for response in (zipped, plain):
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["vary"] == "Accept-Encoding"


async def test_a_missing_file_is_404_not_the_app(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as client:
        for path in ("/favicon.ico", "/assets/gone.js", "/robots.txt"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/../../../../../../etc/hostname",
        "/%2e%2e/secret.txt",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/hostname",
        "/assets/../../secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/..%5csecret.txt",
        "/assets/link.txt",
        "/.env",
        "/assets/%00.js",
        "//etc/hostname",
    ],
)
async def test_nothing_outside_dist_is_ever_served(site: Site, target: str) -> None:
    status, body = await raw_get(site.url, target)
    assert SECRET not in body
    assert b"SECRET=1" not in body
    assert status in (400, 404) or (status == 200 and body == INDEX), (status, body[:200])


async def test_api_paths_are_never_the_app(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as client:
        for path in ("/api", "/api/", "/api/unknown", "/api/energy/nothing"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/json"


async def test_without_a_build_every_page_says_how_to_make_one(tmp_path: Path) -> None:
    app = FastAPI()
    app.include_router(create_router(tmp_path / "no-dist"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://balupi.test") as client:
        for path in ("/", "/energy", "/assets/index.js"):
            response = await client.get(path)
            assert response.status_code == 503
            assert response.text == NOT_BUILT
            assert "npm ci" in response.text
            assert "npm run build" in response.text


async def test_in_balupi_the_api_keeps_its_own_answers(client: httpx.AsyncClient) -> None:
    # The real app: /api paths belong to the API and its pass-through (no NAS here: 404 JSON),
    # /api/health is the health route, and every other path is the dashboard's.
    health = await client.get("/api/health")
    assert health.json()["status"] == "ok"
    unknown = await client.get("/api/not-a-route")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Not Found"}
    page = await client.get("/energy")
    assert page.status_code in (200, 503)
    assert page.headers["content-type"].startswith("text/html")
