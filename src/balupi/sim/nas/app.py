"""The emulated NAS's ASGI app: BaluHost's routes, headers and error handling."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from balupi.sim.nas import auth, chunked, files, health, mobile, sleep_api
from balupi.sim.nas.health import NAS_VERSION
from balupi.sim.nas.state import EmulatedNas

__all__ = ["NAS_VERSION", "create_nas_app"]

_SECURITY_HEADERS = {
    "X-API-Version": "1",
    "X-API-Min-Version": "1",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Vary": "Origin",
}


class RequestAccounting:
    """Counts each request, keeps it "in flight" until its body is fully sent, tags /api answers.

    Plain ASGI rather than ``@app.middleware``: a streamed download stays in flight until its last
    chunk, so the power model sees the machine busy for exactly as long as it is working.
    """

    def __init__(self, app: ASGIApp, state: EmulatedNas) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tag = str(scope["path"]).startswith("/api")

        async def send_tagged(message: Message) -> None:
            if tag and message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        self.state.begin_request()
        try:
            await self.app(scope, receive, send_tagged)
        finally:
            self.state.end_request()


def create_nas_app(state: EmulatedNas) -> FastAPI:
    """Build the app of one emulated NAS around ``state``."""
    app = FastAPI(title="BaluHost (emulated)", version=NAS_VERSION, docs_url=None, redoc_url=None)
    app.state.nas = state

    # Added first, so it runs inside RequestAccounting: its 503s are counted and tagged too.
    app.add_middleware(sleep_api.SleepGuard, state=state)
    app.add_middleware(RequestAccounting, state=state)

    @app.exception_handler(StarletteHTTPException)
    async def scrub_server_errors(request: Request, exc: StarletteHTTPException) -> Response:
        # BaluHost rewrites every HTTPException >= 500 (503 and 507 included) to a generic body
        # and drops its headers (docs/compat/nas-api.md §0). Clients see exactly this.
        if exc.status_code >= 500:
            return JSONResponse({"detail": "Internal server error"}, status_code=exc.status_code)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    app.include_router(health.router)
    app.include_router(sleep_api.router)
    app.include_router(auth.router)
    app.include_router(mobile.router)
    app.include_router(chunked.router)  # before files: its paths are more specific
    app.include_router(files.router)
    return app
