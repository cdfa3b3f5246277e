"""ASGI middleware: a request id on every log line, BaluHost's version headers, an access log.

Written as plain ASGI (not BaseHTTPMiddleware) so streamed downloads pass through untouched.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from balupi.logs import get_logger

API_VERSION = "1"
API_MIN_VERSION = "1"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

log = get_logger("balupi.access")
_INTERNAL_ERROR = JSONResponse({"detail": "Internal server error"}, status_code=500)


class RequestContextMiddleware:
    """Binds ``request_id`` for the request's log lines and echoes it as ``X-Request-ID``.

    Adds ``X-API-Version`` / ``X-API-Min-Version`` to every ``/api`` response, as BaluHost does.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex[:16]
        path: str = scope["path"]
        is_api = path.startswith("/api")
        status: int | str = "none"  # stays so for a connection dropped without an answer
        started = time.perf_counter()
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                if is_api:
                    headers["X-API-Version"] = API_VERSION
                    headers["X-API-Min-Version"] = API_MIN_VERSION
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception:
                # Answer here, inside the middleware, so even a 500 carries the API headers;
                # the traceback goes to the log, never to the client.
                log.exception("unhandled error", path=path)
                if response_started:
                    raise
                await _INTERNAL_ERROR(scope, receive, send_with_headers)
            finally:
                log.info(
                    "request",
                    method=scope["method"],
                    path=path,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
