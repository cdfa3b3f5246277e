"""The catch-all: every ``/api`` request that no other router serves goes to the NAS.

Included last in ``create_app``, so BaluPi's own routes (health, system, nas, auth, handshake …)
always win; a method BaluPi does not serve on one of its own paths lands here too. The behaviour
(what is forwarded, when the NAS is woken, what becomes of redirects) lives in
``services/nas/passthrough.py``; this module only translates between ASGI and that service.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from balupi.api.deps import ServicesDep
from balupi.errors import AuthError, NotAuthenticated
from balupi.logs import get_logger
from balupi.services.nas.passthrough import ForwardRequest, NasPassThrough, NasStream, WakePolicy

log = get_logger(__name__)

router = APIRouter(include_in_schema=False)

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CLIENT_CLOSED = 499  # nginx's status for a client that left; logged only, nobody receives it


async def get_passthrough(services: ServicesDep) -> NasPassThrough:
    settings = services.settings
    policy = WakePolicy(enabled=settings.wake_on_request, wait_seconds=settings.wake_wait_seconds)

    async def rejected(authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        try:
            await services.auth.authenticate(token.strip() if scheme.lower() == "bearer" else None)
        except NotAuthenticated:
            return True
        except AuthError:
            return False  # the Pi cannot tell while the NAS sleeps: the NAS will decide
        return False

    return NasPassThrough(
        services.nas_link, services.nas_waker, policy, credentials_rejected=rejected
    )


PassThroughDep = Annotated[NasPassThrough, Depends(get_passthrough)]


class NasStreamResponse(StreamingResponse):
    """The NAS's answer, sent on chunk by chunk as it arrives.

    Status and headers are the NAS's (``Content-Length`` kept, no content type of Starlette's
    own). The NAS stream is closed however this ends: body complete, client gone (Starlette
    cancels the sending when the client disconnects) or an error.
    """

    def __init__(self, upstream: NasStream) -> None:
        self._upstream = upstream
        self._body = upstream.body()
        super().__init__(self._body, status_code=upstream.status_code)
        self.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in upstream.headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._body.aclose()
            await self._upstream.aclose()


def forward_request(request: Request) -> ForwardRequest:
    """The service's view of ``request``; its body is read from the ASGI channel as it is sent."""
    scope = request.scope
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    query: bytes = scope.get("query_string", b"")
    target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    has_body = "transfer-encoding" in request.headers or request.headers.get(
        "content-length", "0"
    ) not in ("", "0")
    return ForwardRequest(
        method=request.method,
        target=target,
        headers=headers,
        scheme=request.url.scheme,
        client=request.client.host if request.client else None,
        body=request.stream() if has_body else None,
    )


@router.api_route("/api", methods=METHODS)
@router.api_route("/api/{path:path}", methods=METHODS)
async def pass_through(request: Request, passthrough: PassThroughDep) -> Response:
    try:
        upstream = await passthrough.open(forward_request(request))
    except ClientDisconnect:
        log.info("client left during its upload", path=request.url.path)
        return Response(status_code=CLIENT_CLOSED)
    return NasStreamResponse(upstream)
