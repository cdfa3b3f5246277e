"""A signed notice nested absurdly deep is refused with a 4xx, not a 500 (issue 11, finding 13).

Only the NAS holds the secret, but a bug or a compromised NAS must not be able to crash the
handler (``RecursionError`` while storing or serving the snapshot): the snapshot BaluHost sends
is a few levels deep, so anything nested past ``MAX_NOTICE_DEPTH`` is refused and not stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from balupi.app import create_app
from balupi.config import Settings
from balupi.services.nas.notices import GOING_OFFLINE_PATH, MAX_NOTICE_DEPTH, sign_notice

SECRET = "notice-secret-0123456789abcdef-0123456789"


@pytest.fixture
async def pi(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    configured = settings.model_copy(update={"nas_handshake_secret": SecretStr(SECRET)})
    app: FastAPI = create_app(configured)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://balupi.test") as c:
            yield c


def _nested(depth: int) -> dict[str, Any]:
    """A snapshot whose arrays and objects go ``depth`` levels deep, the top object included."""
    value: Any = "deep"
    for _ in range(depth - 1):
        value = [value]
    return {"version": 1, "system": {"hostname": "nas"}, "deep": value}


async def _send(pi: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    stamp = str(int(time.time()))
    signature = sign_notice(SECRET, "POST", GOING_OFFLINE_PATH, stamp, body)
    headers = {
        "X-Balupi-Timestamp": stamp,
        "X-Balupi-Signature": signature,
        "Content-Type": "application/json",
    }
    return await pi.post(GOING_OFFLINE_PATH, content=json.dumps(body), headers=headers)


async def test_a_notice_nested_900_levels_is_refused_and_not_stored(
    pi: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await _send(pi, _nested(900))
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": "Notice body nested too deeply"}
    snapshot = await pi.get("/api/handshake/snapshot", headers=admin_headers)
    assert snapshot.status_code == 404


async def test_a_notice_at_the_depth_limit_is_stored_and_served(
    pi: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = _nested(MAX_NOTICE_DEPTH)
    response = await _send(pi, body)
    assert response.status_code == 200, response.text
    assert response.json()["snapshot_stored"] is True
    snapshot = await pi.get("/api/handshake/snapshot", headers=admin_headers)
    assert snapshot.status_code == 200
    assert snapshot.json() == body
