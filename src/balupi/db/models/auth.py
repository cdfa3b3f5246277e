"""Users as the NAS knows them, cached so people stay logged in while the NAS sleeps.

BaluPi has no user store of its own (the NAS is the system of record); a row here is a copy
of the NAS's ``UserPublic`` plus what the Pi needs to authenticate that user offline. The
token tables remember what the NAS said about bearer tokens, so that a token it accepted
keeps working while it sleeps and a token it rejected is never accepted again.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from balupi.db.models.base import Base, CreatedUpdatedMixin, str_enum, utc_now


class User(CreatedUpdatedMixin, Base):
    """A NAS user seen by the Pi: keyed by the NAS's own user id.

    ``id`` is the NAS id as a string because that is how the NAS hands it out everywhere a
    cache tier looks (token ``sub``, ``owner_id`` in listings), although ``UserPublic.id`` is
    an int. ``password_verifier`` is a slow salted hash (an encoded scrypt or Argon2 string,
    never the password) that lets a known user log in while the NAS is unreachable, until
    ``verifier_expires_at``; the NAS rejecting the password clears it.
    """

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    # The NAS's role string verbatim ("admin" or "user" today), not an enum of ours.
    role: Mapped[str] = mapped_column(String(32), default="user")
    is_active: Mapped[bool] = mapped_column(default=True)
    # When the NAS last confirmed this user (a login, a refresh or an ``/auth/me`` answer).
    last_seen_at: Mapped[datetime | None]
    password_verifier: Mapped[str | None] = mapped_column(Text)
    verifier_expires_at: Mapped[datetime | None]
    # The NAS's last ``UserPublic`` for this user, answered by ``/api/auth/me`` while it sleeps.
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set when the user logged out: refresh tokens issued before it count as revoked (the NAS
    # revokes them all on logout, and the Pi must not refresh them while it sleeps).
    refresh_revoked_before: Mapped[datetime | None]


class TokenVerdict(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class CachedToken(Base):
    """What the NAS (or the Pi, for its own tokens) last said about one bearer token.

    Keyed by the SHA-256 of the token, never the token itself. An ``accepted`` row lets the
    token through while the NAS sleeps until ``expires_at`` (the JWT's ``exp``, or a lifetime
    the Pi picks for API keys); a ``rejected`` row refuses it with the NAS's own ``detail``
    until ``expires_at`` (after which the token is invalid anyway), or for good when it is null.
    """

    __tablename__ = "auth_tokens"
    __table_args__ = (Index(None, "expires_at"),)

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    verdict: Mapped[TokenVerdict] = mapped_column(str_enum(TokenVerdict))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    detail: Mapped[str | None] = mapped_column(String(255))
    checked_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime | None]


class RevokedRefreshToken(Base):
    """A refresh token's ``jti`` that the NAS refused, so the Pi refuses it while it sleeps.

    ``user_id`` carries no foreign key: the NAS may name a user the Pi has never seen.
    """

    __tablename__ = "revoked_refresh_tokens"
    __table_args__ = (Index(None, "expires_at"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime | None]
