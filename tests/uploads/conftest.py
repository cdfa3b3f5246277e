"""Helpers for upload tests: NAS-signed tokens for named users."""

from __future__ import annotations

import time

import jwt

from tests.conftest import TEST_NAS_JWT_SECRET


def bearer(
    user_id: int, username: str, role: str = "user", secret: str = TEST_NAS_JWT_SECRET
) -> dict[str, str]:
    """``Authorization`` with an access token as the NAS signs it (HS256, BaluHost's claims)."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "username": username,
        "role": role,
        "type": "access",
        "iat": now,
        "exp": now + 900,
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


ALICE = bearer(2, "alice")
BOB = bearer(3, "bob")
ADMIN = bearer(1, "admin", "admin")
