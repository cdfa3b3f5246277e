"""The plug's HTTP face: KLAP's three routes in front of the SMART methods.

Real plugs serve exactly these on port 80; everything else is a 404. The crypto and session
rules live in ``klap.py``, the methods in ``smart.py``; this module only moves bytes between
them and turns a ``KlapRejected`` into its status code.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from balupi.sim.plug.device import PlugDevice
from balupi.sim.plug.klap import KlapRejected, KlapSessions
from balupi.sim.plug.smart import SmartApi

log = logging.getLogger(__name__)

SESSION_COOKIE = "TP_SESSIONID"
_BINARY = "application/octet-stream"


def create_plug_app(sessions: KlapSessions, api: SmartApi, device: PlugDevice) -> Starlette:
    """Build the ASGI app of one emulated plug."""

    async def handshake1(request: Request) -> Response:
        try:
            session_id, body = sessions.handshake1(await request.body())
        except KlapRejected as exc:
            return _rejected(exc)
        cookie = {"Set-Cookie": sessions.cookie(session_id)}
        return Response(body, media_type=_BINARY, headers=cookie)

    async def handshake2(request: Request) -> Response:
        try:
            sessions.handshake2(request.cookies.get(SESSION_COOKIE), await request.body())
        except KlapRejected as exc:
            return _rejected(exc)
        return Response(b"", media_type=_BINARY)

    async def smart_request(request: Request) -> Response:
        try:
            seq = int(request.query_params["seq"])
        except (KeyError, ValueError):
            return _rejected(KlapRejected(400, "request needs an integer seq"))
        try:
            session, plaintext = sessions.open_request(
                request.cookies.get(SESSION_COOKIE), seq, await request.body()
            )
        except KlapRejected as exc:
            return _rejected(exc)
        await device.refresh()
        answer = await api.handle_bytes(plaintext)
        return Response(session.cipher.seal(seq, answer), media_type=_BINARY)

    return Starlette(
        routes=[
            Route("/app/handshake1", handshake1, methods=["POST"]),
            Route("/app/handshake2", handshake2, methods=["POST"]),
            Route("/app/request", smart_request, methods=["POST"]),
        ]
    )


def _rejected(exc: KlapRejected) -> Response:
    log.debug("KLAP rejected (%s): %s", exc.status, exc)
    return Response(b"", status_code=exc.status)
