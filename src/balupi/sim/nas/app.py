"""The emulated NAS's ASGI app: BaluHost's routes, headers and error handling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from balupi.sim.nas import auth, chunked, files, health
from balupi.sim.nas.state import NasState

NAS_VERSION = "1.38.0"

_SECURITY_HEADERS = {
    "X-API-Version": "1",
    "X-API-Min-Version": "1",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Vary": "Origin",
}


def create_nas_app(state: NasState) -> FastAPI:
    """Build the app of one emulated NAS around ``state``."""
    app = FastAPI(title="BaluHost (emulated)", version=NAS_VERSION, docs_url=None, redoc_url=None)
    app.state.nas = state

    @app.middleware("http")
    async def count_and_tag(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        state.count_request()
        response = await call_next(request)
        if request.url.path.startswith("/api"):
            for name, value in _SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def scrub_server_errors(request: Request, exc: StarletteHTTPException) -> Response:
        # BaluHost rewrites every HTTPException >= 500 (503 and 507 included) to a generic body
        # and drops its headers (nas-api.md §0). Clients see exactly this.
        if exc.status_code >= 500:
            return JSONResponse({"detail": "Internal server error"}, status_code=exc.status_code)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(chunked.router)  # before files: its paths are more specific
    app.include_router(files.router)
    return app
