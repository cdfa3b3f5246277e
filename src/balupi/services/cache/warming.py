"""``CacheWarmer``: while the NAS is awake anyway, fetch what people will open once it sleeps.

BaluPi lets the NAS sleep, so a file that is not on the Pi costs a wake (and a person waiting
for it). The files people are likely to open next are new ones in folders they browse, and new
uploads to ``Shared`` (the household's photos). So each time the NAS comes online, for whatever
reason, the warmer fetches those it does not hold yet, in one burst right after the wake:

* candidates: files the NAS listed in folders someone browsed within ``window`` that changed
  within ``window`` (the metadata cache knows both), and uploads the Pi pushed into ``Shared``
  within ``window``; newest first, each fetched as a user the NAS showed it to;
* at most ``budget_bytes`` per burst, and never beyond the cache's high watermark: warming
  never makes the cache evict what people actually use;
* one file at a time, through the cache's own miss path (``FileCache.ensure_cached``), so the
  bytes land verified exactly as a download's would; never waking the NAS: a burst starts only
  on a transition to online, and stops at once (its fill cancelled) when the NAS goes to sleep
  or away;
* thumbnails of the fetched images are rendered after the last fetch, when the NAS is no
  longer needed, so its idle timer is not held open by the Pi's CPU.

One log line per burst; the last burst is in ``/api/cache/stats`` (``last_warm``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock, utc_iso
from balupi.config import Settings
from balupi.db.models import (
    DirectoryListing,
    FileMetadata,
    NasState,
    QueueOperation,
    QueueStatus,
    UploadQueueEntry,
    User,
)
from balupi.errors import AuthError, FileError, NasError, NasRejected
from balupi.lifecycle import Lifecycle, LifecycleState
from balupi.logs import get_logger
from balupi.services.auth import AuthenticatedUser, CredentialKind
from balupi.services.cache.service import FileCache
from balupi.services.cache.stats import WarmReport
from balupi.services.cache.thumbnails import Thumbnails, looks_like_image
from balupi.services.files.metadata import in_tree
from balupi.services.files.paths import SHARED
from balupi.services.nas.gate import Purpose, nas_purpose
from balupi.services.nas.link import LinkSnapshot, NasLink

log = get_logger(__name__)

STOPPED_ASLEEP = "the NAS went to sleep or away"
STOPPED_UNREACHABLE = "the NAS stopped answering"


class OwnerTokenSource(Protocol):
    async def token_for(self, user_id: str) -> str | None:
        """A token the NAS accepts for ``user_id``, or None."""
        ...


@dataclass(frozen=True)
class WarmSettings:
    budget_bytes: int = 1024**3  # per burst; 0 switches warming off
    window: timedelta = timedelta(days=7)  # how recent a browse, a change, an upload must be
    max_files: int = 500  # per burst: bounds the queries and the burst's length

    @classmethod
    def from_settings(cls, settings: Settings) -> WarmSettings:
        return cls(int(settings.cache_warm_bytes), timedelta(days=settings.cache_warm_days))

    @property
    def enabled(self) -> bool:
        return self.budget_bytes > 0


@dataclass(frozen=True)
class Candidate:
    """A file worth having on the Pi, and a user the NAS showed it to."""

    path: str
    size: int
    changed_at: datetime
    user_id: str


@dataclass
class _Burst:
    """What the burst in progress has done (read by the report however it ends)."""

    started_at: datetime
    started: float
    files: int = 0
    bytes: int = 0
    thumbnails: int = 0
    fetched: list[tuple[AuthenticatedUser, str]] = field(default_factory=list)


class CacheWarmer(Lifecycle):
    """Fetches likely reads into the cache in one burst after each wake (module docstring)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        link: NasLink,
        cache: FileCache,
        thumbnails: Thumbnails | None,
        tokens: OwnerTokenSource,
        clock: Clock,
        settings: WarmSettings,
    ) -> None:
        self._sessions = sessions
        self._link = link
        self._cache = cache
        self._thumbnails = thumbnails
        self._tokens = tokens
        self._clock = clock
        self.settings = settings
        self._task: asyncio.Task[WarmReport] | None = None
        self._current: str | None = None  # the path being fetched now
        self._remove_listener: Callable[[], None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    async def _open(self) -> None:
        """Listen to the NAS link: a burst on each wake."""
        self._remove_listener = self._link.add_listener(self._on_transition)

    async def _closing(self) -> None:
        """At shutdown: no further burst, and the fetch in flight is abandoned."""
        if self._remove_listener is not None:
            self._remove_listener()
        if self._current is not None:
            await self._cache.abandon(self._current)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def _on_transition(self, old: LinkSnapshot, new: LinkSnapshot) -> None:
        if new.state is NasState.ONLINE and old.state is not NasState.ONLINE:
            if self.settings.enabled and self._link.configured and not self.running:
                self._task = self._spawn(self.run_once(), name="cache-warm")
        elif new.state is not NasState.ONLINE and self._current is not None:
            # Stop at once: the fill in flight is cancelled (its fetch then fails and the burst
            # sees the NAS is not online). A task: the link's transition does not wait for it.
            self._spawn(self._cache.abandon(self._current), name="cache-warm-abandon")

    # -- the burst ----------------------------------------------------------------------------
    async def run_once(self) -> WarmReport:
        """One burst (see the module docstring); its report is also the cache's ``last_warm``."""
        burst = _Burst(self._clock.now(), time.monotonic())
        stopped: str | None = STOPPED_ASLEEP  # unless the fetches end on their own
        try:
            # Background work for the request gate: if the NAS falls asleep between the checks
            # of ``_online`` and a request, the gate holds the request (or marks it, so BaluHost
            # does not wake for it), whichever context the link's transition ran in.
            with nas_purpose(Purpose.BACKGROUND):
                stopped = await self._fetch_all(burst)
                await self._render_thumbnails(burst)
        finally:
            report = self._report(burst, stopped)
        return report

    async def _fetch_all(self, burst: _Burst) -> str | None:
        """Fetch candidates in order within the budgets; why it stopped early, or None."""
        if not self._online():
            return STOPPED_ASLEEP
        await self._cache.evictor.refresh_budget()
        for candidate in await self.candidates():
            if not self._online():
                return STOPPED_ASLEEP
            if not self._wanted(candidate, burst):
                continue
            user = await self._user(candidate.user_id)
            if user is None:
                continue
            self._current = candidate.path
            try:
                await self._cache.ensure_cached(user, candidate.path, may_wake=False)
            except (NasRejected, FileError, AuthError):
                continue  # gone, not this user's, not cacheable: the next one
            except NasError:
                return STOPPED_ASLEEP if not self._online() else STOPPED_UNREACHABLE
            finally:
                self._current = None
            burst.files += 1
            burst.bytes += candidate.size
            burst.fetched.append((user, candidate.path))
        return None

    def _wanted(self, candidate: Candidate, burst: _Burst) -> bool:
        """Not held yet, admitted, and within both the burst's budget and the high watermark."""
        cache = self._cache
        held = cache.catalog.get(candidate.path)
        if held is not None and held.size == candidate.size:
            return False
        if cache.local.get(candidate.path) is not None:
            return False  # a pending upload: the Pi has the newer bytes
        if burst.bytes + candidate.size > self.settings.budget_bytes:
            return False
        ceiling = cache.evictor.budget * cache.tuning.high_watermark
        if cache.catalog.stored_bytes + candidate.size > ceiling:
            return False  # it would make the cache evict what people use
        return cache.evictor.admits(candidate.size)

    async def _render_thumbnails(self, burst: _Burst) -> None:
        """Thumbnails of the fetched images: CPU on the Pi only, after the NAS's part is done."""
        if self._thumbnails is None:
            return
        for user, path in burst.fetched:
            if not looks_like_image(path):
                continue
            try:
                await self._thumbnails.thumbnail(user, path, None, may_wake=False)
            except (NasError, FileError, AuthError):
                continue
            burst.thumbnails += 1

    def _report(self, burst: _Burst, stopped: str | None) -> WarmReport:
        report = WarmReport(
            started_at=utc_iso(burst.started_at),
            files=burst.files,
            bytes=burst.bytes,
            thumbnails=burst.thumbnails,
            seconds=round(time.monotonic() - burst.started, 3),
            budget_bytes=self.settings.budget_bytes,
            stopped=stopped,
        )
        self._cache.last_warm = report
        log.info(
            "cache warmed",
            files=report.files,
            bytes=report.bytes,
            thumbnails=report.thumbnails,
            seconds=report.seconds,
            stopped=stopped,
        )
        return report

    def _online(self) -> bool:
        return (
            self.lifecycle_state is not LifecycleState.CLOSED
            and self._link.state is NasState.ONLINE
        )

    # -- what to fetch ------------------------------------------------------------------------
    async def candidates(self) -> list[Candidate]:
        """Likely reads, newest first, one per path (no NAS request: the Pi's own records)."""
        since = self._clock.now() - self.settings.window
        limit = self.settings.max_files
        async with self._sessions() as session:
            browsed = (
                await session.execute(
                    select(
                        FileMetadata.path,
                        FileMetadata.size,
                        FileMetadata.mtime,
                        DirectoryListing.user_id,
                    )
                    .join(DirectoryListing, DirectoryListing.path == FileMetadata.parent_path)
                    .where(DirectoryListing.listed_at >= since)
                    .where(FileMetadata.is_directory.is_(False))
                    .where(FileMetadata.mtime >= since)
                    .order_by(FileMetadata.mtime.desc())
                    .limit(limit)
                )
            ).all()
            uploaded = (
                await session.execute(
                    select(
                        UploadQueueEntry.target_path,
                        UploadQueueEntry.size,
                        UploadQueueEntry.synced_at,
                        UploadQueueEntry.owner_id,
                    )
                    .where(UploadQueueEntry.operation == QueueOperation.UPLOAD)
                    .where(UploadQueueEntry.status == QueueStatus.SYNCED)
                    .where(UploadQueueEntry.synced_at >= since)
                    .where(in_tree(UploadQueueEntry.target_path, SHARED))
                    .order_by(UploadQueueEntry.synced_at.desc())
                    .limit(limit)
                )
            ).all()
        rows: Iterable[tuple[str, int | None, datetime | None, str]] = [
            *browsed,
            *uploaded,
        ]
        return _newest_first(rows, limit)

    async def _user(self, user_id: str) -> AuthenticatedUser | None:
        """``user_id`` with a token the NAS accepts (minted or last presented), or None."""
        token = await self._tokens.token_for(user_id)
        if token is None:
            return None
        async with self._sessions() as session:
            user = await session.get(User, user_id)
        if user is None or not user.is_active:
            return None
        return AuthenticatedUser(user.id, user.username, user.role, token, CredentialKind.NAS_TOKEN)


def _newest_first(
    rows: Iterable[tuple[str, int | None, datetime | None, str]], limit: int
) -> list[Candidate]:
    """One candidate per path, the most recent change first, at most ``limit``."""
    best: dict[str, Candidate] = {}
    for path, size, changed_at, user_id in rows:
        if size is None or changed_at is None:
            continue
        known = best.get(path)
        if known is None or changed_at > known.changed_at:
            best[path] = Candidate(path, size, changed_at, user_id)
    return sorted(best.values(), key=lambda c: c.changed_at, reverse=True)[:limit]
