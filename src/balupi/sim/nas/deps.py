"""Dependencies of the emulated NAS's routes: its state and the authenticated user.

Token checks follow BaluHost's ``get_current_user`` step by step (nas-api.md §2.3), with its exact
401 bodies, because clients react to them.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request

from balupi.sim.nas.state import NasState, NasUser

_BEARER = {"WWW-Authenticate": "Bearer"}


def get_state(request: Request) -> NasState:
    state: NasState = request.app.state.nas
    return state


State = Annotated[NasState, Depends(get_state)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers=_BEARER)


def user_for_token(state: NasState, token: str) -> NasUser:
    """The user a Bearer token (access JWT or ``balu_`` API key) stands for, or a 401."""
    if token.startswith("balu_"):
        key = state.api_keys.get(hashlib.sha256(token.encode()).hexdigest())
        now = state.clock()
        if key is None or not key.is_active or (key.expires_at is not None and key.expires_at < now):
            raise _unauthorized("Invalid API key")
        user_id = key.user_id
    else:
        try:
            claims = jwt.decode(token, state.jwt_secret, algorithms=["HS256"])
        except jwt.PyJWTError as exc:
            raise _unauthorized("Could not validate credentials") from exc
        if claims.get("type") != "access":
            raise _unauthorized("Could not validate credentials")
        try:
            user_id = int(claims["sub"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _unauthorized("Could not validate credentials") from exc
    user = state.users.get(user_id)
    if user is None:
        raise _unauthorized("User no longer exists")
    if not user.is_active:
        raise _unauthorized("User account is inactive")
    return user


def current_user(request: Request, state: State) -> NasUser:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("No authentication token provided")
    return user_for_token(state, token.strip())


CurrentUser = Annotated[NasUser, Depends(current_user)]


def require_admin(user: CurrentUser) -> NasUser:
    if user.role != "admin":
        raise HTTPException(status_code=403, detail="Insufficient permissions: Admin required")
    return user


AdminUser = Annotated[NasUser, Depends(require_admin)]
