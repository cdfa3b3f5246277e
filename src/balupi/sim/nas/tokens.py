"""BaluHost's bearer credentials: the JWTs it mints and the ``balu_`` API keys it accepts.

JWTs are HS256 with exactly the NAS's claims (docs/compat/nas-api.md §2.2), so a token from the
emulator is byte-for-byte what the real NAS would mint for the same user in the same second, and
BaluPi can be tested against it. Signing and reading are BaluPi's own HS256 module
(``balupi.services.auth.jwt``), the same code the Pi uses; expiry is judged by the NAS's injected
clock rather than the wall clock, so a test can move time past a token's ``exp`` without sleeping.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Literal

from balupi.services.auth import jwt
from balupi.services.auth.jwt import InvalidToken
from balupi.sim.nas.state import EmulatedNas, NasUser

TokenType = Literal["access", "refresh"]
API_KEY_PREFIX = "balu_"


class TokenError(Exception):
    """The token is not an intact, unexpired JWT of the expected type from this NAS."""


def mint_access_token(state: EmulatedNas, user: NasUser) -> str:
    """An access token: ``sub`` (the id as a string), ``username``, ``role``, ``type``, ``exp``,
    ``iat``, in that order."""
    issued = int(state.clock())
    claims = {
        "sub": str(user.id),
        "username": user.username,
        "role": user.role,
        "type": "access",
        "exp": issued + state.access_token_minutes * 60,
        "iat": issued,
    }
    return jwt.encode(claims, state.jwt_secret)


def mint_refresh_token(state: EmulatedNas, user: NasUser, *, validity_days: int) -> str:
    """A refresh token (``sub``, ``jti``, ``type``, ``exp``, ``iat``) whose jti the NAS stores."""
    issued = int(state.clock())
    jti = str(uuid.uuid4())
    claims = {
        "sub": str(user.id),
        "jti": jti,
        "type": "refresh",
        "exp": issued + validity_days * 86_400,
        "iat": issued,
    }
    token = jwt.encode(claims, state.jwt_secret)
    state.store_refresh_token(jti, user.id)
    return token


def read_token(state: EmulatedNas, token: str, *, expected: TokenType) -> dict[str, Any]:
    """The claims of ``token`` if its signature, ``exp`` and ``type`` hold; else TokenError."""
    try:
        # exp against the NAS's own clock; iat is not checked by BaluHost.
        claims = jwt.decode(token, state.jwt_secret, now=state.clock(), require=("exp", "sub"))
    except InvalidToken as exc:
        raise TokenError(str(exc)) from exc
    if claims.get("type") != expected:
        raise TokenError(f"not an {expected} token")
    return claims


def subject_user_id(claims: dict[str, Any]) -> int:
    """The user id in ``sub`` (a string of digits); TokenError when it is anything else."""
    try:
        return int(claims["sub"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TokenError("bad subject") from exc


def api_key_digest(raw_key: str) -> str:
    """The SHA-256 hex under which BaluHost stores an API key (the key itself is never kept)."""
    return hashlib.sha256(raw_key.encode()).hexdigest()
