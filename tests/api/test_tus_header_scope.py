"""``Tus-Resumable`` on error answers belongs to the tus endpoints only (review of issue 15).

The one error boundary adds it to any BaluPi error answered under ``/api/files/tus``. It must not
leak onto BaluHost-compatible routes whose path merely contains ``/tus``: a download or listing
of a folder called ``tusk`` answered BaluHost's headers only before the refactor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from balupi.api.errors import install_error_handlers
from balupi.api.middleware import RequestContextMiddleware
from balupi.errors import NasAsleep, NotAuthenticated
from balupi.services.uploads.resumable import UploadSessionError

Ask = Callable[[str, Exception], Awaitable[httpx.Response]]


@pytest.fixture
async def raising() -> AsyncIterator[Ask]:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    pending: list[Exception] = []

    @app.api_route("/{path:path}", methods=["GET"])
    async def boom(path: str) -> None:
        raise pending.pop()

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://pi") as client:

        async def ask(path: str, exc: Exception) -> httpx.Response:
            pending.append(exc)
            return await client.get(path)

        yield ask


@pytest.mark.parametrize(
    "path",
    [
        "/api/files/download/maria/tusk.jpg",
        "/api/files/thumbnail/maria/tusks/a.jpg",
        "/api/files/download/tus",
    ],
)
async def test_a_path_that_merely_contains_tus_gets_no_tus_header(raising: Ask, path: str) -> None:
    answer = await raising(path, NasAsleep(retry_after=12))
    assert answer.status_code == 503
    assert "Tus-Resumable" not in answer.headers


@pytest.mark.parametrize("path", ["/api/files/tus", "/api/files/tus/abc"])
async def test_the_tus_endpoints_errors_carry_the_protocol_version(raising: Ask, path: str) -> None:
    for error in (UploadSessionError(409, "Offset 3 does not match 0"), NotAuthenticated()):
        answer = await raising(path, error)
        assert answer.headers["Tus-Resumable"] == "1.0.0"
