"""The one place where errors become HTTP answers: always JSON ``{"detail": …}``.

Machine codes, by route family. On BaluPi's own endpoints (``PI_OWN_PREFIXES``: ``/api/energy``,
``/api/tapo``, ``/api/cache``, ``/api/nas``, ``/api/system``, ``/api/sync/conflicts``,
``/api/sync/policies``, ``/api/files/sync``) every error also carries ``"code"``: the stable
snake_case ``code`` of the BaluPi error class (``nas_asleep``, ``plug_address_invalid``,
``disk_full`` …), ``invalid_input`` for a request that fails validation, and for an
``HTTPException`` the code of the error it was raised from, else one for its status
(``HTTP_CODES``). The dashboard translates by it. The BaluHost-compatible routes the real clients
use (auth, files, uploads, downloads, the other sync routes, the pass-through, the NAS's
handshake notices) keep BaluHost's exact bodies: no ``code`` is added there.

One handler answers every BaluPi error from what its class states (``balupi/errors.py``):
``status_code``, ``code``, ``detail``, and ``retry_after`` / ``challenge`` where set. So a route
needs no try/except to turn a service's refusal into HTTP, and a new error class needs no new
handler. The statuses are the ones the clients interpret (docs/compat/clients.md §0.10): a
sleeping or unreachable NAS is ``503`` with ``Retry-After``; auth errors carry BaluHost's exact
texts (docs/compat/nas-api.md §2.3) and a ``429`` slowapi's body, as the NAS sends them. Beside
it, a few handlers for what is not BaluPi's: Starlette's ``HTTPException``, FastAPI's validation
error, a client that left, and a full disk under ``OSError`` / SQLite / SQLAlchemy.

A BaluPi error without a status (``CacheError``, ``InvalidToken`` …: meant to be caught inside)
and every other unexpected exception are logged with their traceback and answered with a generic
``500`` by ``RequestContextMiddleware``; a traceback or exception text never reaches a client.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from balupi.errors import BaluPiError, NasRejected
from balupi.services.uploads.spool import InsufficientStorage, is_disk_full

PI_OWN_PREFIXES = (
    "/api/energy",
    "/api/tapo",
    "/api/cache",
    "/api/nas",
    "/api/system/status",  # the rest of /api/system/* is BaluHost's, passed through
    "/api/sync/conflicts",
    "/api/sync/policies",
    "/api/files/sync",
)
"""Route families that exist only on BaluPi: their errors carry a ``code``."""

INVALID_INPUT = "invalid_input"
CLIENT_DISCONNECTED = "client_disconnected"
HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: INVALID_INPUT,
    503: "unavailable",
}
"""Codes for an ``HTTPException`` a route raised without a BaluPi error behind it."""

_TUS_VERSION = {"Tus-Resumable": "1.0.0"}
_TUS_PATH = "/api/files/tus"  # routes/resumable.py: the tus endpoints, and nothing else

E = TypeVar("E", bound=Exception)
Handler = Callable[[Request, Exception], Awaitable[Response]]


def _handles(kind: type[E], answer: Callable[[Request, E], Awaitable[Response]]) -> Handler:
    """``answer`` as the handler Starlette stores: typed for any exception, so it checks that
    Starlette picked it for a ``kind`` (an MRO match always is) instead of a ``type: ignore``."""

    async def handle(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, kind):
            raise exc
        return await answer(request, exc)

    return handle


def install_error_handlers(app: FastAPI) -> None:
    """Register the boundary: Starlette picks the handler of the nearest class in the MRO."""
    for kind, handler in _handlers().items():
        app.add_exception_handler(kind, handler)


def _handlers() -> dict[type[Exception], Handler]:
    # A full disk can surface anywhere the Pi writes: the file system's ENOSPC, or SQLite's
    # "database or disk is full" through SQLAlchemy. Anything else of these types stays a 500.
    return {
        BaluPiError: _handles(BaluPiError, _balupi_error),
        StarletteHTTPException: _handles(StarletteHTTPException, _http_error),
        RequestValidationError: _handles(RequestValidationError, _invalid_request),
        ClientDisconnect: _handles(ClientDisconnect, _client_disconnected),
        OSError: _handles(OSError, _disk_full),
        sqlite3.Error: _handles(sqlite3.Error, _disk_full),
        DBAPIError: _handles(DBAPIError, _disk_full),
    }


def speaks_codes(path: str) -> bool:
    """Whether ``path`` is one of BaluPi's own endpoints, whose errors carry a ``code``."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PI_OWN_PREFIXES)


def _answer(
    request: Request,
    body: dict[str, Any],
    status_code: int,
    code: str,
    headers: Mapping[str, str] | None = None,
    response_class: type[JSONResponse] = JSONResponse,
) -> JSONResponse:
    """``body`` as the answer, with ``code`` added on BaluPi's own endpoints only."""
    if speaks_codes(request.url.path):
        body = {**body, "code": code}
    return response_class(body, status_code=status_code, headers=headers)


def _error_answer(request: Request, exc: BaluPiError, status_code: int) -> JSONResponse:
    """The answer for a BaluPi error, all of it read from what its class states."""
    body: dict[str, Any] = {"detail": exc.detail}
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        # BaluDesk and BaluApp read ``retry_after`` from the body, browsers the header.
        body["retry_after"] = exc.retry_after
        headers["Retry-After"] = str(exc.retry_after)
    if status_code == HTTPStatus.TOO_MANY_REQUESTS and not isinstance(exc, NasRejected):
        # slowapi's body, as BaluHost answers a rate limit (docs/compat/nas-api.md §0), for the
        # Pi's own limits; the NAS's 429 passes on as its other statuses do, ``{"detail": …}``.
        body = {"error": HTTPStatus.TOO_MANY_REQUESTS.phrase, **body}
    if exc.challenge is not None:
        headers["WWW-Authenticate"] = exc.challenge
    if _is_tus(request.url.path):
        headers.update(_TUS_VERSION)  # tus clients look for it on every answer, errors included
    return _answer(request, body, status_code, exc.code, headers or None)


def _is_tus(path: str) -> bool:
    """Whether ``path`` is a tus endpoint: not any path holding ``/tus`` (a download of a folder
    called ``tusk`` keeps BaluHost's headers)."""
    return path == _TUS_PATH or path.startswith(_TUS_PATH + "/")


async def _balupi_error(request: Request, exc: BaluPiError) -> Response:
    if exc.status_code is None:
        raise exc  # meant to be caught inside: a bug if it gets here, so a logged plain 500
    return _error_answer(request, exc, exc.status_code)


def http_code(exc: StarletteHTTPException) -> str:
    """The code of the BaluPi error ``exc`` was raised from, else the one for its status."""
    if isinstance(exc.__cause__, BaluPiError):
        return exc.__cause__.code
    return HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    return _answer(request, {"detail": exc.detail}, exc.status_code, http_code(exc), exc.headers)


class _AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: it can carry a lone surrogate, which a JSON
    string may spell (``"\\ud800"``) but UTF-8 cannot encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
    # FastAPI's own 422, whose errors echo the input: FastAPI's handler made that a 500 when
    # the input held a lone surrogate.
    detail = jsonable_encoder(exc.errors())
    return _answer(request, {"detail": detail}, 422, INVALID_INPUT, None, _AsciiJSONResponse)


async def _client_disconnected(request: Request, exc: ClientDisconnect) -> Response:
    # Nobody is listening any more; the request's partial work was already undone.
    return _answer(request, {"detail": "Client disconnected"}, 400, CLIENT_DISCONNECTED)


async def _disk_full(request: Request, exc: Exception) -> Response:
    """507 when ``exc`` (or what caused it) is the Pi's disk running full; re-raised otherwise."""
    if not _caused_by_full_disk(exc):
        raise exc
    return await _balupi_error(request, InsufficientStorage())


def _caused_by_full_disk(exc: BaseException) -> bool:
    """Whether ``exc`` or an error in its chain of causes says the disk is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and is_disk_full(current):
            return True
        if isinstance(current, sqlite3.Error) and current.sqlite_errorcode == sqlite3.SQLITE_FULL:
            return True
        if isinstance(current, DBAPIError) and isinstance(current.orig, BaseException):
            current = current.orig
            continue
        current = current.__cause__ or current.__context__
    return False
