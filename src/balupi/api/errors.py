"""The one place where errors become HTTP answers: always JSON ``{"detail": …}``.

BaluPi's own errors map to the status codes the clients interpret (clients.md §0.10): a sleeping
or unreachable NAS is ``503`` with ``Retry-After``. Unexpected exceptions are logged with their
traceback and answered with a generic ``500`` by ``RequestContextMiddleware``; a traceback never
reaches a client.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from balupi.errors import NasAsleep, NasRejected, NasUnreachable


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(NasAsleep, _nas_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(NasUnreachable, _nas_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(NasRejected, _nas_rejected)  # type: ignore[arg-type]


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _nas_unavailable(request: Request, exc: NasAsleep | NasUnreachable) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc), "retry_after": exc.retry_after},
        status_code=503,
        headers={"Retry-After": str(exc.retry_after)},
    )


async def _nas_rejected(request: Request, exc: NasRejected) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
