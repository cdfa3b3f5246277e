"""Dependencies of the emulated NAS's routes: its state and the authenticated user.

Token checks follow BaluHost's ``get_current_user`` step by step (docs/compat/nas-api.md §2.3), with
its exact 401 bodies, because clients react to them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from balupi.sim.nas.state import EmulatedNas, NasUser
from balupi.sim.nas.tokens import (
    API_KEY_PREFIX,
    TokenError,
    api_key_digest,
    read_token,
    subject_user_id,
)

_BEARER = {"WWW-Authenticate": "Bearer"}


async def get_state(request: Request) -> EmulatedNas:
    state: EmulatedNas = request.app.state.nas
    return state


State = Annotated[EmulatedNas, Depends(get_state)]


def unauthorized(detail: str) -> HTTPException:
    """A 401 with BaluHost's ``WWW-Authenticate: Bearer`` header and ``detail`` as the body."""
    return HTTPException(status_code=401, detail=detail, headers=_BEARER)


def user_for_token(state: EmulatedNas, token: str) -> NasUser:
    """The user a Bearer token (access JWT or ``balu_`` API key) stands for, or a 401."""
    if token.startswith(API_KEY_PREFIX):
        key = state.api_keys.get(api_key_digest(token))
        now = state.clock()
        if (
            key is None
            or not key.is_active
            or (key.expires_at is not None and key.expires_at < now)
        ):
            raise unauthorized("Invalid API key")
        user_id = key.user_id
    else:
        try:
            user_id = subject_user_id(read_token(state, token, expected="access"))
        except TokenError as exc:
            raise unauthorized("Could not validate credentials") from exc
    user = state.users.get(user_id)
    if user is None:
        raise unauthorized("User no longer exists")
    if not user.is_active:
        raise unauthorized("User account is inactive")
    return user


async def current_user(request: Request, state: State) -> NasUser:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("No authentication token provided")
    return user_for_token(state, token.strip())


CurrentUser = Annotated[NasUser, Depends(current_user)]


async def require_admin(user: CurrentUser) -> NasUser:
    if user.role != "admin":
        raise HTTPException(status_code=403, detail="Insufficient permissions: Admin required")
    return user


AdminUser = Annotated[NasUser, Depends(require_admin)]
