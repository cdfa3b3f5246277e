"""The pull side: while the NAS is awake, folders people browse are listed again now and then.

A listing refreshed from the NAS updates the Pi's metadata cache (so a folder browsed while the
NAS later sleeps shows today's files), and the file cache drops entries the NAS no longer has
(the listing service tells it). The work is bounded: at most ``max_folders`` per run, the ones
listed most recently but not within ``min_age``, each as the user it was listed for. Nothing is
sent while the NAS is not online: this never wakes it. A remote change to a file that also has
a pending local change is caught when that upload is pushed (the worker compares checksums
before it sends anything).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.db.models import DirectoryListing, NasState, User
from balupi.logs import get_logger
from balupi.services.auth import AuthenticatedUser, CredentialKind
from balupi.services.files.listing import ListingService
from balupi.services.nas.link import NasLink
from balupi.services.uploads.tokens import OwnerTokens

log = get_logger(__name__)


@dataclass(frozen=True)
class PullSettings:
    max_folders: int = 20
    min_age: timedelta = timedelta(minutes=15)  # listed more recently: fresh enough
    max_age: timedelta = timedelta(days=7)  # listed longer ago: nobody browses it now


class FolderRevalidator:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        link: NasLink,
        listing: ListingService,
        tokens: OwnerTokens,
        clock: Clock,
        settings: PullSettings | None = None,
    ) -> None:
        self._sessions = sessions
        self._link = link
        self._listing = listing
        self._tokens = tokens
        self._clock = clock
        self.settings = settings or PullSettings()

    async def run_once(self) -> int:
        """List the due folders again; returns how many the NAS answered."""
        if self._link.state is not NasState.ONLINE:
            return 0
        now = self._clock.now()
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(DirectoryListing.path, User.id, User.username, User.role)
                    .join(User, User.id == DirectoryListing.user_id)
                    .where(DirectoryListing.listed_at <= now - self.settings.min_age)
                    .where(DirectoryListing.listed_at >= now - self.settings.max_age)
                    .order_by(DirectoryListing.listed_at.desc())
                    .limit(self.settings.max_folders)
                )
            ).all()
        refreshed = 0
        for path, user_id, username, role in rows:
            if self._link.state is not NasState.ONLINE:
                break
            token = await self._tokens.token_for(user_id)
            if token is None:
                continue
            user = AuthenticatedUser(user_id, username, role, token, CredentialKind.NAS_TOKEN)
            refreshed += await self._listing.refresh(path, user)
        if refreshed:
            log.info("folders revalidated", folders=refreshed)
        return refreshed
