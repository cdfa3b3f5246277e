"""The one place where errors become HTTP answers: always JSON ``{"detail": …}``.

BaluPi's own errors map to the status codes the clients interpret (docs/compat/clients.md §0.10): a
sleeping or unreachable NAS is ``503`` with ``Retry-After``. Auth errors carry BaluHost's exact
texts (docs/compat/nas-api.md §2.3) and a rate-limited login slowapi's body, as the NAS sends them.
Unexpected exceptions are logged with their traceback and answered with a generic ``500`` by
``RequestContextMiddleware``; a traceback never reaches a client.
"""

from __future__ import annotations

import json
import sqlite3
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


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


class _AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: it can carry a lone surrogate, which a JSON
    string may spell (``"\\ud800"``) but UTF-8 cannot encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's own 422, whose errors echo the input: FastAPI's handler made that a 500 when
    # the input held a lone surrogate.
    return _AsciiJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


async def _nas_unavailable(
    request: Request, exc: NasAsleep | NasUnreachable | AuthUndecided
) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc), "retry_after": exc.retry_after},
        status_code=503,
        headers={"Retry-After": str(exc.retry_after)},
    )


async def _nas_rejected(request: Request, exc: NasRejected) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


async def _not_authenticated(request: Request, exc: NotAuthenticated) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=401, headers=_BEARER_CHALLENGE)


async def _permission_denied(request: Request, exc: PermissionDenied) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=403)


async def _too_many_attempts(
    request: Request, exc: TooManyAttempts | UploadQueueFull
) -> JSONResponse:
    # slowapi's body as BaluHost sets it (docs/compat/nas-api.md §0); BaluDesk reads retry_after.
    return JSONResponse(
        {"error": "Too Many Requests", "detail": str(exc), "retry_after": exc.retry_after},
        status_code=429,
        headers={"Retry-After": str(exc.retry_after)},
    )


async def _file_error(request: Request, exc: FileError) -> JSONResponse:
    # The NAS's own answers for paths it refuses: 400 "Invalid path", 403 "Access denied".
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


async def _insufficient_storage(request: Request, exc: InsufficientStorage) -> JSONResponse:
    # BaluDesk pauses uploads for ten minutes on 507 (docs/compat/clients.md §2.3).
    return JSONResponse({"detail": exc.detail}, status_code=507)


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
    return JSONResponse({"detail": exc.detail}, status_code=422)


async def _client_disconnected(request: Request, exc: ClientDisconnect) -> JSONResponse:
    # Nobody is listening any more; the request's partial work was already undone.
    return JSONResponse({"detail": "Client disconnected"}, status_code=400)


async def _plug_error(request: Request, exc: PlugError) -> JSONResponse:
    # 502 when the plug itself failed (no answer, credentials refused), 404 / 409 for BaluPi's own.
    return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)


async def _upload_session_error(request: Request, exc: UploadSessionError) -> JSONResponse:
    # tus clients look for Tus-Resumable on every answer, errors included.
    headers = {"Tus-Resumable": "1.0.0"} if "/tus" in request.url.path else None
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
