"""Is a cached copy still what the NAS has? Asked only while the NAS is awake.

An entry is *due* once ``revalidate_seconds`` have passed since the NAS last confirmed it. Then
a NAS listing that is newer than that confirmation and itself recent decides without a request:
its SHA-256 ``checksum`` when it has one, else size and mtime. Otherwise one small request asks
the NAS: ``GET /download/{path}`` with ``Range: bytes=0-0`` (HEAD is 405 on the NAS), whose
``ETag`` is the NAS's mtime+size fingerprint (docs/compat/nas-api.md §3.3); a 404 means the file is
gone.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime

from balupi.clock import Clock
from balupi.errors import NasRejected, NasUnreachable
from balupi.services.auth import AuthenticatedUser, CredentialKind
from balupi.services.cache.catalog import Entry
from balupi.services.cache.model import CacheTuning
from balupi.services.cache.origin import NasOrigin
from balupi.services.cache.sources import ListingSource, RemoteFile


class Verdict(enum.Enum):
    CURRENT = "current"  # serve it
    STALE = "stale"  # the NAS has other bytes: fetch again
    GONE = "gone"  # the NAS no longer has the file


class Freshness:
    def __init__(
        self,
        listings: ListingSource,
        origin: NasOrigin,
        clock: Clock,
        tuning: Callable[[], CacheTuning],
    ) -> None:
        self._listings = listings
        self._origin = origin
        self._clock = clock
        self._tuning = tuning

    def due(self, entry: Entry) -> bool:
        if entry.validated_at is None:
            return True
        age = (self._clock.now() - entry.validated_at).total_seconds()
        return age > self._tuning().revalidate_seconds

    async def check(self, user: AuthenticatedUser, entry: Entry) -> Verdict:
        """The verdict on ``entry``; ``NasRejected`` when the NAS refuses this user (401/403).

        When the NAS cannot be asked (it just went away, or the user's token means nothing to
        it) the cached copy stands: it is the best answer there is.
        """
        now = self._clock.now()
        known = await self._listings.known(entry.path)
        if known is not None and self._listing_decides(entry, known, now):
            current = same_content(entry, known)
            checked_at = known.listed_at
        else:
            if user.kind is CredentialKind.PI_TOKEN:
                return Verdict.CURRENT
            try:
                probe = await self._origin.probe(entry.path, user.token)
            except NasUnreachable:
                return Verdict.CURRENT
            if probe.status == 404:
                return Verdict.GONE
            if probe.status not in (200, 206):
                raise NasRejected(probe.status, "Access denied" if probe.status == 403 else "")
            if probe.etag and entry.etag:
                current = probe.etag == entry.etag
            else:
                current = probe.size == entry.size and probe.last_modified == entry.last_modified
            checked_at = now
        if not current:
            return Verdict.STALE
        entry.validated_at = checked_at
        return Verdict.CURRENT

    def _listing_decides(self, entry: Entry, known: RemoteFile, now: datetime) -> bool:
        """Whether a stored NAS listing is newer than our last check and recent enough."""
        newer = entry.validated_at is None or known.listed_at > entry.validated_at
        recent = (now - known.listed_at).total_seconds() <= self._tuning().revalidate_seconds
        return newer and recent


def same_content(entry: Entry, known: RemoteFile) -> bool:
    """A listing's verdict: its SHA-256 when it has one, else size and mtime (to the second,
    the precision of the ``Last-Modified`` the entry was stored with)."""
    if known.checksum:
        return known.checksum == entry.sha256
    if known.size != entry.size or known.mtime is None or entry.last_modified is None:
        return False
    return int(known.mtime.timestamp()) == int(entry.last_modified.timestamp())
