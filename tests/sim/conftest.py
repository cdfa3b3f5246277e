"""Fixtures for the NAS emulator: a fresh NAS with an admin and two users, and a client per user.

Access tokens are minted here with BaluPi's HS256 module (the NAS's claims,
docs/compat/nas-api.md §2.2) rather than through the login route, so file tests depend on
nothing but the token check.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from balupi.services.auth import jwt
from balupi.sim.nas.app import create_nas_app
from balupi.sim.nas.state import EmulatedNas

JWT_SECRET = "x" * 32


def access_token(state: EmulatedNas, username: str) -> str:
    """An access JWT for ``username`` exactly as BaluHost mints it."""
    user = state.user_by_name(username)
    assert user is not None
    now = int(time.time())
    claims = {
        "sub": str(user.id),
        "username": user.username,
        "role": user.role,
        "type": "access",
        "exp": now + 900,
        "iat": now,
    }
    return jwt.encode(claims, JWT_SECRET)


@pytest.fixture
def nas_state(tmp_path: Path) -> EmulatedNas:
    """Storage with ``Shared`` (BaluHost creates it at start-up), ``admin``, ``alice``, ``bob``."""
    state = EmulatedNas(tmp_path / "storage", JWT_SECRET)
    (state.storage / "Shared").mkdir(parents=True)
    state.add_user("admin", "admin-pw", role="admin")
    state.add_user("alice", "alice-pw")
    state.add_user("bob", "bob-pw")
    return state


@pytest.fixture
def nas_app(nas_state: EmulatedNas) -> FastAPI:
    return create_nas_app(nas_state)


async def _client(app: FastAPI, headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://nas.test", headers=headers
    ) as client:
        yield client


def _bearer(state: EmulatedNas, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token(state, username)}"}


@pytest.fixture
async def anonymous(nas_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(nas_app, {}):
        yield client


@pytest.fixture
async def admin(nas_app: FastAPI, nas_state: EmulatedNas) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(nas_app, _bearer(nas_state, "admin")):
        yield client


@pytest.fixture
async def alice(nas_app: FastAPI, nas_state: EmulatedNas) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(nas_app, _bearer(nas_state, "alice")):
        yield client


@pytest.fixture
async def bob(nas_app: FastAPI, nas_state: EmulatedNas) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(nas_app, _bearer(nas_state, "bob")):
        yield client
