"""``OwnerTokens``: a credential to act on the NAS as the user who made a queued change.

With the NAS's token secret the Pi mints a short-lived access token for that user (the NAS accepts
it as its own). Without it, the worker uses the freshest unexpired token the user presented with
an upload or a change (kept in memory only: a token is a credential, not data to store); when
there is none, the entry waits in ``waiting_for_auth`` until the user shows up again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.db.models import User
from balupi.services.auth.tokens import TokenSigner, peek


@dataclass(frozen=True)
class _Presented:
    token: str
    expires_at: datetime | None


class OwnerTokens:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        signer: TokenSigner,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._signer = signer
        self._clock = clock
        self._presented: dict[str, _Presented] = {}

    def remember(self, user_id: str, token: str) -> None:
        """Keep the token a user just presented, if it is a NAS token fresher than the last."""
        claims = peek(token)
        if claims is None or claims.type != "access":
            return  # API keys and Pi-only tokens mean nothing to the NAS for pushing
        known = self._presented.get(user_id)
        expires = claims.expires_at
        if known is None or (expires and (known.expires_at is None or expires > known.expires_at)):
            self._presented[user_id] = _Presented(token, expires)

    def forget(self, user_id: str, token: str) -> None:
        """The NAS refused ``token``: never offer it again."""
        known = self._presented.get(user_id)
        if known is not None and known.token == token:
            del self._presented[user_id]

    async def token_for(self, user_id: str) -> str | None:
        if self._signer.knows_nas_secret:
            async with self._sessions() as session:
                user = await session.get(User, user_id)
            if user is not None and user.is_active:
                return self._signer.mint_nas_access(
                    user_id=user.id, username=user.username, role=user.role
                )
            return None
        known = self._presented.get(user_id)
        if known is None:
            return None
        if known.expires_at is not None and known.expires_at <= self._clock.now():
            del self._presented[user_id]
            return None
        return known.token
