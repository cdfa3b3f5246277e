"""What the NAS said about bearer tokens and refresh tokens, kept across restarts of the Pi.

Without the NAS's signing key the Pi cannot judge a token itself: it asks the NAS's
``/api/auth/me`` while the NAS is awake and remembers the verdict under the token's SHA-256.
An accepted token then keeps working while the NAS sleeps, until its ``exp``; a rejected one
is refused for good, whoever asks and whatever the Pi could decode (the earlier BaluPi fell back
to local decoding after the NAS said no, and so let refused tokens in). Refresh tokens the NAS
called revoked are remembered by ``jti`` so the Pi does not refresh them while the NAS sleeps.

Rows whose ``expires_at`` has passed say nothing any more (the token is expired anyway) and are
swept out at most once an hour, as part of a write.

Verdicts (and their absence) are read on every protected request, so they are also kept in a
bounded memory that each write here drops; nothing else writes these tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.db.models import CachedToken, RevokedRefreshToken, TokenVerdict
from balupi.services.auth.memo import WriteThroughMemo

PRUNE_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True)
class TokenRecord:
    verdict: TokenVerdict
    user_id: str | None
    detail: str | None
    checked_at: datetime
    expires_at: datetime | None

    @property
    def accepted(self) -> bool:
        return self.verdict is TokenVerdict.ACCEPTED

    @property
    def rejected(self) -> bool:
        return self.verdict is TokenVerdict.REJECTED


class TokenCache:
    """Token verdicts by digest, and revoked refresh tokens by ``jti``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._last_prune: datetime | None = None
        self._memo: WriteThroughMemo[str, TokenRecord | None] = WriteThroughMemo()

    async def lookup(self, digest: str, now: datetime) -> TokenRecord | None:
        """The verdict on the token with ``digest``, unless there is none or it has lapsed."""
        found, record, ticket = self._memo.lookup(digest)
        if not found:
            async with self._sessions() as session:
                row = await session.get(CachedToken, digest)
                record = None
                if row is not None:
                    record = TokenRecord(
                        row.verdict, row.user_id, row.detail, row.checked_at, row.expires_at
                    )
            self._memo.put(digest, record, ticket)
        if record is None or (record.expires_at is not None and record.expires_at <= now):
            return None
        return record

    async def accept(
        self, digest: str, *, user_id: str, checked_at: datetime, expires_at: datetime
    ) -> None:
        """The NAS accepted the token for ``user_id``; good while it sleeps until ``expires_at``."""
        await self._store(
            CachedToken(
                digest=digest,
                verdict=TokenVerdict.ACCEPTED,
                user_id=user_id,
                detail=None,
                checked_at=checked_at,
                expires_at=expires_at,
            )
        )

    async def reject(
        self, digest: str, *, detail: str, checked_at: datetime, expires_at: datetime | None
    ) -> None:
        """The token is invalid: refuse it with ``detail`` until ``expires_at`` (None: always)."""
        await self._store(
            CachedToken(
                digest=digest,
                verdict=TokenVerdict.REJECTED,
                user_id=None,
                detail=detail[:255],
                checked_at=checked_at,
                expires_at=expires_at,
            )
        )

    async def revoke_refresh(
        self,
        jti: str,
        *,
        user_id: str | None,
        revoked_at: datetime,
        expires_at: datetime | None,
    ) -> None:
        await self._store(
            RevokedRefreshToken(
                jti=jti[:64], user_id=user_id, revoked_at=revoked_at, expires_at=expires_at
            )
        )

    async def refresh_revoked(self, jti: str) -> bool:
        async with self._sessions() as session:
            return await session.get(RevokedRefreshToken, jti[:64]) is not None

    async def _store(self, row: CachedToken | RevokedRefreshToken) -> None:
        try:
            await self._store_once(row)
        except IntegrityError:  # a concurrent insert of the same key won; now it is an update
            await self._store_once(row)
        finally:
            self._memo.invalidate()

    async def _store_once(self, row: CachedToken | RevokedRefreshToken) -> None:
        async with self._sessions.begin() as session:
            await session.merge(row)
            now = row.checked_at if isinstance(row, CachedToken) else row.revoked_at
            if self._last_prune is None or now - self._last_prune >= PRUNE_INTERVAL:
                self._last_prune = now
                await _prune(session, now)


async def _prune(session: AsyncSession, now: datetime) -> None:
    for table in (CachedToken, RevokedRefreshToken):
        await session.execute(
            delete(table).where(table.expires_at.is_not(None), table.expires_at <= now)
        )
