"""``/api/auth/*`` answers, BaluHost's (docs/compat/nas-api.md §2).

These models document the answers; the routes send the bodies as the NAS or the Pi's user
cache spelled them (``JSONResponse``), never re-validated: ``/me`` and ``/refresh`` may answer
only 200 or 401, so a field the NAS adds or spells differently must not become a 500, and the
NAS's extra fields pass on (``extra="allow"``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class UserPublic(BaseModel):
    """BaluHost's ``UserPublic``; timestamps are the NAS's (naive ISO strings on SQLite)."""

    model_config = ConfigDict(extra="allow")

    id: int | str
    username: str
    email: str | None = None
    role: str
    is_active: bool
    smb_enabled: bool = False
    created_at: str | None = None
    updated_at: str | None = None


class TokenPublic(BaseModel):
    """BaluHost's ``TokenResponse``. Login never carries a refresh token (only app registration
    and desktop pairing do); a user with TOTP gets ``requires_2fa`` and ``pending_token`` from
    the NAS instead of an access token."""

    model_config = ConfigDict(extra="allow")

    access_token: str | None = None
    token_type: str = "bearer"
    user: UserPublic | None = None
    refresh_token: str | None = None
    requires_2fa: bool | None = None
    pending_token: str | None = None


class LogoutPublic(BaseModel):
    message: str
