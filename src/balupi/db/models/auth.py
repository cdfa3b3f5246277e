"""Users as the NAS knows them, cached so people stay logged in while the NAS sleeps.

BaluPi has no user store of its own (the NAS is the system of record); a row here is a copy
of the NAS's ``UserPublic`` plus what the Pi needs to authenticate that user offline.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from balupi.db.models.base import Base, CreatedUpdatedMixin


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
