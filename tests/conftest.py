"""Fixtures shared by the whole suite: settings in a temp dir and a running BaluPi."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import FastAPI

from balupi.app import create_app
from balupi.config import Settings

# The NAS's token-signing key as test BaluPis know it: protected routes accept tokens signed
# with it (``admin_headers``), as a real installation with BALUPI_NAS_JWT_SECRET does.
TEST_NAS_JWT_SECRET = "balupi-tests-nas-jwt-secret-0123456789abcdef"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Development settings with everything under ``tmp_path``; the environment can't leak in.

    mDNS is off: an app under test must not announce itself on the LAN (tests/nas/test_discovery.py
    turns it on inside a private network namespace).
    """
    monkeypatch.delenv("BALUPI_CONFIG", raising=False)
    return Settings(
        data_dir=tmp_path / "data",
        nas_jwt_secret=TEST_NAS_JWT_SECRET,
        mdns_enabled=False,
        _env_prefix="BALUPI_TEST_UNUSED_",  # type: ignore[call-arg]
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """A BaluPi app whose lifespan (services, scheduler, database) is running."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://balupi.test") as c:
        yield c


@pytest.fixture
def admin_headers() -> dict[str, str]:
    """``Authorization`` for an admin: a NAS access token, valid for 15 minutes from now."""
    now = int(time.time())
    claims = {
        "sub": "1",
        "username": "admin",
        "role": "admin",
        "type": "access",
        "exp": now + 900,
        "iat": now,
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, TEST_NAS_JWT_SECRET, algorithm='HS256')}"}
