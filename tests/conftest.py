"""Fixtures shared by the whole suite: settings in a temp dir and a running BaluPi."""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from balupi.app import create_app
from balupi.config import Settings
from balupi.db.engine import create_engine, create_sessionmaker
from balupi.db.migrate import upgrade_to_head
from balupi.services.auth import jwt

# The NAS's token-signing key as test BaluPis know it: protected routes accept tokens signed
# with it (``admin_headers``), as a real installation with BALUPI_NAS_JWT_SECRET does.
TEST_NAS_JWT_SECRET = "balupi-tests-nas-jwt-secret-0123456789abcdef"


def plain_tracebacks() -> None:
    """structlog's default console renderer, with plain tracebacks instead of rich's.

    rich (which schemathesis brings) renders every local of every frame: seconds per logged
    error, minutes for a fuzz run that provokes a few hundred.
    """
    processors = [
        structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
        if isinstance(processor, structlog.dev.ConsoleRenderer)
        else processor
        for processor in structlog.get_config()["processors"]
    ]
    structlog.configure(processors=processors)


@pytest.fixture(scope="session", autouse=True)
def _plain_tracebacks() -> None:
    plain_tracebacks()


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
    return {"Authorization": f"Bearer {jwt.encode(claims, TEST_NAS_JWT_SECRET)}"}


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database at head, migrated once per run; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "balupi.db"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def engine(tmp_path: Path, migrated_database: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh copy of the migrated database (services tested without an app)."""
    path = tmp_path / "balupi.db"
    shutil.copyfile(migrated_database, path)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)
