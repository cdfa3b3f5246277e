"""``/api/auth/*``: login, me, refresh and logout, as BaluHost serves them, NAS awake or asleep.

Two routes are Tier 0 for the clients (docs/compat/clients.md §6): ``/me`` may answer only 200 or
401, and ``/refresh`` only 200 or 401 for a token that is really invalid. Where the Pi cannot
decide, both close the connection without an answer (``DropConnection``), which the clients treat as
"offline" and keep their tokens. Other auth routes (2FA, register, password change) are not
served here; they pass through to the NAS.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from balupi.api.connection import DropConnection
from balupi.api.deps import AuthServiceDep, BearerToken
from balupi.api.schemas.auth import LogoutPublic, TokenPublic, UserPublic
from balupi.errors import AuthUndecided
from balupi.services.auth import ForwardedAnswer, TokenGrant

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(BaseModel):
    """BaluHost's ``UserLogin``: JSON only (a form body gets 422, as from the NAS)."""

    username: str
    password: str


class RefreshRequest(BaseModel):
    refresh_token: str


def _answer(outcome: ForwardedAnswer | TokenGrant | dict[str, Any]) -> Response:
    """The NAS's answer as it came, or the Pi's body as FastAPI would encode it (unvalidated:
    see ``api/schemas/auth.py``)."""
    if isinstance(outcome, ForwardedAnswer):
        return Response(outcome.content, outcome.status_code, headers=outcome.headers)
    if isinstance(outcome, TokenGrant):
        return JSONResponse(outcome.body())
    return JSONResponse(jsonable_encoder(outcome))


@router.post("/login", response_model=TokenPublic)
async def login(body: LoginRequest, request: Request, auth: AuthServiceDep) -> Response:
    client = request.client.host if request.client else "unknown"
    return _answer(await auth.login(body.username, body.password, client=client))


@router.get("/me", response_model=UserPublic)
async def me(token: BearerToken, auth: AuthServiceDep) -> Response:
    try:
        return _answer(await auth.me(token))
    except AuthUndecided as exc:
        raise DropConnection(str(exc)) from exc


@router.post("/refresh", response_model=TokenPublic)
async def refresh(request: Request, auth: AuthServiceDep) -> Response:
    # Parsed here rather than by FastAPI: a malformed body must not become a 422 (an HTTP error
    # makes BaluApp delete its tokens); an unusable refresh token is simply an invalid one.
    try:
        token = RefreshRequest.model_validate_json(await request.body()).refresh_token
    except ValidationError:
        token = ""
    try:
        return _answer(await auth.refresh(token))
    except AuthUndecided as exc:
        raise DropConnection(str(exc)) from exc


@router.post("/logout", response_model=LogoutPublic)
async def logout(token: BearerToken, auth: AuthServiceDep) -> Response:
    return _answer(await auth.logout(token))
