"""``DropConnection``: the client sees a closed connection, never a status, and the server lives on.

Run on a real Uvicorn (``running_server``), because what matters is what reaches the socket:
stock Uvicorn answers 500 to an app that raises before responding.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from balupi.api import middleware
from balupi.api.connection import ConnectionDropMiddleware, DropConnection
from balupi.api.middleware import RequestContextMiddleware
from balupi.server import running_server


def _app(*, request_context: bool = True) -> FastAPI:
    app = FastAPI()
    app.add_middleware(ConnectionDropMiddleware)
    if request_context:
        app.add_middleware(RequestContextMiddleware)

    @app.get("/drop")
    async def drop_get() -> None:
        raise DropConnection("undecidable")

    @app.post("/drop")
    async def drop_post(body: dict[str, str]) -> None:
        raise DropConnection("undecidable")

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    return app


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_the_client_sees_a_closed_connection_and_no_status(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_server(_app()) as server, httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/ok")).status_code == 200  # a kept-alive connection first
        with caplog.at_level(logging.INFO, logger="uvicorn"):
            with pytest.raises(httpx.RemoteProtocolError):
                await client.request(method, "/drop", json={"refresh_token": "x"})
            # The server goes on serving, on a new connection.
            assert (await client.get("/ok")).json() == {"ok": True}

    uvicorn_errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert uvicorn_errors == []  # no "Exception in ASGI application", no 500 written


async def test_without_the_drop_extension_the_exception_is_not_mistaken_for_an_answer() -> None:
    transport = httpx.ASGITransport(app=_app(request_context=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(DropConnection):
            await client.get("/drop")


class _AccessLog:
    """Stands in for the access logger: keeps each line's fields."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **fields})

    def exception(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **fields})


async def test_the_access_log_says_no_answer_went_out(monkeypatch: pytest.MonkeyPatch) -> None:
    access = _AccessLog()
    monkeypatch.setattr(middleware, "log", access)
    async with running_server(_app()) as server, httpx.AsyncClient(base_url=server.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/drop")

    assert [(line["path"], line["status"]) for line in access.lines] == [("/drop", "none")]
