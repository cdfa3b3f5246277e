"""The Pi's copy of the NAS's users (the ``users`` table), read and written for offline auth.

Rows are keyed by the NAS's user id as a string (a token's ``sub``), never by name. They come
from what the NAS said: its ``UserPublic`` in a login, refresh or ``/auth/me`` answer, or, for
a user first met through a NAS-signed access token while the NAS sleeps, the token's claims.
A user the NAS recreated under the same name gets a new id; the stale row is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import utc_iso
from balupi.db.models import User
from balupi.services.auth.memo import WriteThroughMemo


@dataclass(frozen=True)
class CachedUser:
    """A user as the Pi last heard of them from the NAS."""

    id: str
    username: str
    role: str
    is_active: bool
    profile: dict[str, Any] | None
    password_verifier: str | None
    verifier_expires_at: datetime | None
    refresh_revoked_before: datetime | None
    created_at: datetime
    confirmed_at: datetime | None = None  # when the NAS last vouched for this user

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def verifier_usable(self, now: datetime) -> bool:
        return (
            self.password_verifier is not None
            and self.verifier_expires_at is not None
            and now < self.verifier_expires_at
        )

    def public(self) -> dict[str, Any]:
        """BaluHost's ``UserPublic``: the NAS's last copy, else one built from what is known."""
        body: dict[str, Any] = {
            "username": self.username,
            "email": None,
            "id": self.nas_id,
            "role": self.role,
            "is_active": self.is_active,
            "smb_enabled": False,
            "created_at": utc_iso(self.created_at),
            "updated_at": None,
        }
        body.update(self.profile or {})
        # What the Pi learned since (a deactivation, a new role) beats the stored copy.
        body.update(username=self.username, id=self.nas_id, role=self.role)
        body["is_active"] = self.is_active
        return body

    @property
    def nas_id(self) -> int | str:
        """The id as ``UserPublic`` spells it: an int (BaluHost's ids are integers)."""
        return int(self.id) if self.id.isdecimal() else self.id

    @classmethod
    def of(cls, row: User) -> CachedUser:
        return cls(
            id=row.id,
            username=row.username,
            role=row.role,
            is_active=row.is_active,
            profile=dict(row.profile) if row.profile else None,
            password_verifier=row.password_verifier,
            verifier_expires_at=row.verifier_expires_at,
            refresh_revoked_before=row.refresh_revoked_before,
            created_at=row.created_at,
            confirmed_at=row.last_seen_at,
        )


class UserStore:
    """Reads and writes cached users; every method is one short transaction.

    ``get`` (once per protected request) is answered from memory after the first read; every
    write here drops that memory. Other code only ever adds a placeholder row for a user this
    store has not seen, and a missing user is never remembered, so nothing goes stale.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._memo: WriteThroughMemo[str, CachedUser] = WriteThroughMemo()

    async def get(self, user_id: str) -> CachedUser | None:
        found, user, ticket = self._memo.lookup(user_id)
        if found:
            return user
        async with self._sessions() as session:
            row = await session.get(User, user_id)
            user = CachedUser.of(row) if row else None
        if user is not None:
            self._memo.put(user_id, user, ticket)
        return user

    async def by_username(self, username: str) -> CachedUser | None:
        async with self._sessions() as session:
            row = await session.scalar(select(User).where(User.username == username))
            return CachedUser.of(row) if row else None

    async def remember(self, profile: dict[str, Any], *, seen_at: datetime) -> CachedUser:
        """Store the NAS's ``UserPublic`` for a user (insert or update); ValueError if it
        lacks an id or a username."""
        user_id, username = profile.get("id"), profile.get("username")
        if user_id is None or not isinstance(username, str) or not username:
            raise ValueError("a UserPublic needs an id and a username")
        role = profile.get("role")
        values: dict[str, Any] = {
            "username": username,
            "role": role if isinstance(role, str) and role else "user",
            "is_active": bool(profile.get("is_active", True)),
            "profile": profile,
            "last_seen_at": seen_at,
        }
        return await self._upsert(str(user_id), values, overwrite=True)

    async def learn(self, user_id: str, username: str, role: str) -> CachedUser:
        """A user first met through a NAS-signed token's claims; an existing row is kept."""
        return await self._upsert(
            user_id, {"username": username, "role": role, "is_active": True}, overwrite=False
        )

    async def set_verifier(self, user_id: str, verifier: str, expires_at: datetime) -> None:
        await self._update(user_id, password_verifier=verifier, verifier_expires_at=expires_at)

    async def forget_verifier(self, username: str) -> None:
        """No offline login for this user any more: the NAS refused the password the verifier
        was made from, asks for a second factor, or no longer lists the user."""
        try:
            async with self._sessions.begin() as session:
                row = await session.scalar(select(User).where(User.username == username))
                if row is not None:
                    row.password_verifier = None
                    row.verifier_expires_at = None
        finally:
            self._memo.invalidate()

    async def set_active(self, user_id: str, active: bool) -> None:
        await self._update(user_id, is_active=active)

    async def revoke_refresh_tokens(self, user_id: str, before: datetime) -> None:
        """The user logged out: refresh tokens issued before ``before`` are no longer honoured."""
        await self._update(user_id, refresh_revoked_before=before)

    async def _update(self, user_id: str, **values: Any) -> None:
        try:
            async with self._sessions.begin() as session:
                row = await session.get(User, user_id)
                if row is not None:
                    for name, value in values.items():
                        setattr(row, name, value)
        finally:
            self._memo.invalidate()

    async def _upsert(self, user_id: str, values: dict[str, Any], *, overwrite: bool) -> CachedUser:
        # Two requests may meet the same new user at once; the loser of the insert retries as
        # an update.
        try:
            for attempt in range(2):
                try:
                    return await self._upsert_once(user_id, values, overwrite=overwrite)
                except IntegrityError:
                    if attempt:
                        raise
            raise AssertionError("unreachable")
        finally:
            self._memo.invalidate()

    async def _upsert_once(
        self, user_id: str, values: dict[str, Any], *, overwrite: bool
    ) -> CachedUser:
        async with self._sessions.begin() as session:
            row = await session.get(User, user_id)
            if row is not None and not overwrite:
                return CachedUser.of(row)
            # The NAS deleted a user and made a new one with the same name: the old row goes.
            await session.execute(
                delete(User).where(User.username == values["username"], User.id != user_id)
            )
            if row is None:
                row = User(id=user_id, **values)
                session.add(row)
            else:
                for name, value in values.items():
                    setattr(row, name, value)
            await session.flush()
            return CachedUser.of(row)
