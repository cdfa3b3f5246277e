"""The one error boundary (issue 15): every BaluPi error is answered from what its class states.

A bare app with only the boundary and the request middleware raises each error class on one of
BaluPi's own paths (the answer carries ``code``) and on a BaluHost-compatible one (BaluHost's body,
no ``code``). Errors not meant for a client, and anything unexpected, are a plain 500 sentence.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from balupi.api.errors import install_error_handlers
from balupi.api.middleware import RequestContextMiddleware
from balupi.errors import (
    BaluPiError,
    CacheError,
    NasAsleep,
    NotAuthenticated,
    TooManyAttempts,
)
from balupi.services.nas.notices import NoticeRejected, NoticesDisabled
from balupi.services.uploads.conflicts import ConflictNotFound
from balupi.services.uploads.resumable import UploadSessionError
from tests.test_error_codes import _error_classes

OWN = "/api/energy/boom"  # one of BaluPi's own routes: errors carry a code
BALUHOST = "/api/files/boom"  # BaluHost-compatible: BaluHost's body only
INTERNAL = {"detail": "Internal server error"}
Ask = Callable[[str, Exception], Awaitable[httpx.Response]]
_SAMPLE_ARGS: tuple[tuple[object, ...], ...] = ((), ("A sentence for the test",), (418, "A test"))


def _sample(cls: type[BaluPiError]) -> BaluPiError:
    """An instance of ``cls``, whatever its constructor takes."""
    for args in _SAMPLE_ARGS:
        try:
            return cls(*args)
        except TypeError:
            continue
    raise AssertionError(f"cannot build a {cls.__qualname__}")


ALL_ERRORS = sorted(_error_classes(), key=lambda cls: cls.__qualname__)


@pytest.fixture
async def raising() -> AsyncIterator[Ask]:
    """``await raising(path, exc)``: the answer to a request whose handler raises ``exc``."""
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


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda cls: cls.__qualname__)
async def test_every_error_class_is_answered_with_its_status_and_code(
    raising: Ask, cls: type[BaluPiError]
) -> None:
    error = _sample(cls)
    own = await raising(OWN, error)
    baluhost = await raising(BALUHOST, error)
    assert own.status_code == baluhost.status_code == (error.status_code or 500)
    if error.status_code is None:
        assert own.json() == baluhost.json() == INTERNAL
        return
    assert own.json()["code"] == cls.code
    assert "code" not in baluhost.json()  # BaluHost-compatible routes: BaluHost's body only
    assert own.json()["detail"] == baluhost.json()["detail"] == error.detail


async def test_a_sleeping_nas_says_when_to_retry(raising: Ask) -> None:
    answer = await raising(OWN, NasAsleep(retry_after=12))
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "12"
    assert answer.json() == {"detail": "NAS is sleeping", "retry_after": 12, "code": "nas_asleep"}


async def test_a_rate_limit_answers_in_slowapis_shape(
    raising: Ask,
) -> None:
    answer = await raising("/api/auth/login", TooManyAttempts(retry_after=60))
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "60"
    assert list(answer.json().items()) == [
        ("error", "Too Many Requests"),
        ("detail", "Rate limit exceeded. Please try again later."),
        ("retry_after", 60),
    ]


async def test_only_a_login_failure_names_the_bearer_scheme(
    raising: Ask,
) -> None:
    login = await raising("/api/auth/me", NotAuthenticated())
    notice = await raising("/api/handshake/nas-coming-online", NoticeRejected("Invalid signature"))
    assert (login.status_code, login.headers["WWW-Authenticate"]) == (401, "Bearer")
    assert login.json() == {"detail": "Could not validate credentials"}
    assert notice.status_code == 401
    assert "WWW-Authenticate" not in notice.headers
    assert notice.json() == {"detail": "Invalid signature"}


async def test_notices_while_no_secret_is_configured_are_a_503_without_retry(
    raising: Ask,
) -> None:
    answer = await raising("/api/handshake/nas-coming-online", NoticesDisabled("No secret"))
    assert (answer.status_code, answer.json()) == (503, {"detail": "No secret"})
    assert "Retry-After" not in answer.headers


async def test_an_unknown_conflict_keeps_the_routes_old_answer(
    raising: Ask,
) -> None:
    answer = await raising("/api/sync/conflicts/7/resolve", ConflictNotFound(7))
    assert answer.status_code == 404
    assert answer.json() == {"detail": "Open conflict not found", "code": "not_found"}


async def test_tus_answers_carry_the_protocol_version(
    raising: Ask,
) -> None:
    answer = await raising(
        "/api/files/tus/abc", UploadSessionError(409, "Offset 3 does not match 0")
    )
    assert answer.status_code == 409
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert answer.json() == {"detail": "Offset 3 does not match 0"}


async def test_a_full_disk_is_a_507_wherever_it_surfaces(
    raising: Ask,
) -> None:
    answer = await raising(OWN, OSError(errno.ENOSPC, "No space left on device"))
    assert answer.status_code == 507
    assert answer.json() == {"detail": "Insufficient storage on BaluPi", "code": "disk_full"}


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("secret /srv/path in the message"),
        OSError(errno.EACCES, "secret /srv/path in the message"),
        CacheError("secret /srv/path in the message"),
    ],
    ids=["unexpected", "other-os-error", "internal-balupi-error"],
)
async def test_an_unexpected_error_is_a_plain_500_sentence(raising: Ask, error: Exception) -> None:
    for path in (OWN, BALUHOST):
        answer = await raising(path, error)
        assert (answer.status_code, answer.json()) == (500, INTERNAL)
        assert "secret" not in answer.text
