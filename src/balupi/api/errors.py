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

BaluPi's own errors map to the status codes the clients interpret (docs/compat/clients.md §0.10): a
sleeping or unreachable NAS is ``503`` with ``Retry-After``. Auth errors carry BaluHost's exact
texts (docs/compat/nas-api.md §2.3) and a rate-limited login slowapi's body, as the NAS sends them.
Unexpected exceptions are logged with their traceback and answered with a generic ``500`` by
``RequestContextMiddleware``; a traceback never reaches a client.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from balupi.errors import (
    AuthUndecided,
    BaluPiError,
    FileError,
    NasAsleep,
    NasRejected,
    NasUnreachable,
    NotAuthenticated,
    PermissionDenied,
    PlugError,
    TooManyAttempts,
)
from balupi.services.uploads.ingest import UploadQueueFull
from balupi.services.uploads.multipart import MalformedUpload
from balupi.services.uploads.resumable import UploadSessionError
from balupi.services.uploads.spool import InsufficientStorage
from balupi.services.uploads.spool import _is_disk_full as is_disk_full_os_error

_BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}

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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(NasAsleep, _nas_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(NasUnreachable, _nas_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(NasRejected, _nas_rejected)  # type: ignore[arg-type]
    app.add_exception_handler(AuthUndecided, _nas_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(NotAuthenticated, _not_authenticated)  # type: ignore[arg-type]
    app.add_exception_handler(PermissionDenied, _permission_denied)  # type: ignore[arg-type]
    app.add_exception_handler(TooManyAttempts, _too_many_attempts)  # type: ignore[arg-type]
    app.add_exception_handler(UploadQueueFull, _too_many_attempts)  # type: ignore[arg-type]
    app.add_exception_handler(FileError, _file_error)  # type: ignore[arg-type]
    app.add_exception_handler(InsufficientStorage, _insufficient_storage)  # type: ignore[arg-type]
    app.add_exception_handler(MalformedUpload, _malformed_upload)  # type: ignore[arg-type]
    app.add_exception_handler(ClientDisconnect, _client_disconnected)  # type: ignore[arg-type]
    app.add_exception_handler(UploadSessionError, _upload_session_error)  # type: ignore[arg-type]
    app.add_exception_handler(PlugError, _plug_error)  # type: ignore[arg-type]
    # A full disk can surface anywhere the Pi writes: the file system's ENOSPC, or SQLite's
    # "database or disk is full" through SQLAlchemy. Anything else of these types stays a 500.
    app.add_exception_handler(OSError, _disk_full)
    app.add_exception_handler(sqlite3.Error, _disk_full)
    app.add_exception_handler(DBAPIError, _disk_full)


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


def http_code(exc: StarletteHTTPException) -> str:
    """The code of the BaluPi error ``exc`` was raised from, else the one for its status."""
    if isinstance(exc.__cause__, BaluPiError):
        return exc.__cause__.code
    return HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return _answer(request, {"detail": exc.detail}, exc.status_code, http_code(exc), exc.headers)


class _AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: it can carry a lone surrogate, which a JSON
    string may spell (``"\\ud800"``) but UTF-8 cannot encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's own 422, whose errors echo the input: FastAPI's handler made that a 500 when
    # the input held a lone surrogate.
    detail = jsonable_encoder(exc.errors())
    return _answer(request, {"detail": detail}, 422, INVALID_INPUT, None, _AsciiJSONResponse)


async def _nas_unavailable(
    request: Request, exc: NasAsleep | NasUnreachable | AuthUndecided
) -> JSONResponse:
    body = {"detail": str(exc), "retry_after": exc.retry_after}
    return _answer(request, body, 503, exc.code, {"Retry-After": str(exc.retry_after)})


async def _nas_rejected(request: Request, exc: NasRejected) -> JSONResponse:
    return _answer(request, {"detail": exc.detail}, exc.status_code, exc.code)


async def _not_authenticated(request: Request, exc: NotAuthenticated) -> JSONResponse:
    return _answer(request, {"detail": exc.detail}, 401, exc.code, _BEARER_CHALLENGE)


async def _permission_denied(request: Request, exc: PermissionDenied) -> JSONResponse:
    return _answer(request, {"detail": exc.detail}, 403, exc.code)


async def _too_many_attempts(
    request: Request, exc: TooManyAttempts | UploadQueueFull
) -> JSONResponse:
    # slowapi's body as BaluHost sets it (docs/compat/nas-api.md §0); BaluDesk reads retry_after.
    body = {"error": "Too Many Requests", "detail": str(exc), "retry_after": exc.retry_after}
    return _answer(request, body, 429, exc.code, {"Retry-After": str(exc.retry_after)})


async def _file_error(request: Request, exc: FileError) -> JSONResponse:
    # The NAS's own answers for paths it refuses: 400 "Invalid path", 403 "Access denied".
    return _answer(request, {"detail": exc.detail}, exc.status_code, exc.code)


async def _insufficient_storage(request: Request, exc: InsufficientStorage) -> JSONResponse:
    # BaluDesk pauses uploads for ten minutes on 507 (docs/compat/clients.md §2.3).
    return _answer(request, {"detail": exc.detail}, 507, exc.code)


async def _disk_full(request: Request, exc: Exception) -> JSONResponse:
    """507 when ``exc`` (or what caused it) is the Pi's disk running full; re-raised otherwise."""
    if not _caused_by_full_disk(exc):
        raise exc
    return await _insufficient_storage(request, InsufficientStorage())


def _caused_by_full_disk(exc: BaseException) -> bool:
    """Whether ``exc`` or an error in its chain of causes says the disk is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and is_disk_full_os_error(current):
            return True
        if isinstance(current, sqlite3.Error) and current.sqlite_errorcode == sqlite3.SQLITE_FULL:
            return True
        if isinstance(current, DBAPIError) and isinstance(current.orig, BaseException):
            current = current.orig
            continue
        current = current.__cause__ or current.__context__
    return False


async def _malformed_upload(request: Request, exc: MalformedUpload) -> JSONResponse:
    return _answer(request, {"detail": exc.detail}, 422, exc.code)


async def _client_disconnected(request: Request, exc: ClientDisconnect) -> JSONResponse:
    # Nobody is listening any more; the request's partial work was already undone.
    return _answer(request, {"detail": "Client disconnected"}, 400, CLIENT_DISCONNECTED)


async def _plug_error(request: Request, exc: PlugError) -> JSONResponse:
    # 502 when the plug itself failed (no answer, credentials refused), 404 / 409 for BaluPi's own.
    return _answer(request, {"detail": str(exc)}, exc.status_code, exc.code)


async def _upload_session_error(request: Request, exc: UploadSessionError) -> JSONResponse:
    # tus clients look for Tus-Resumable on every answer, errors included.
    headers = {"Tus-Resumable": "1.0.0"} if "/tus" in request.url.path else None
    return _answer(request, {"detail": exc.detail}, exc.status_code, exc.code, headers)
