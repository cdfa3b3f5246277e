"""``GET /api/files/list``: the NAS's answer while it is awake, the Pi's memory of it while not.

NAS online: the listing is forwarded with the user's token. A ``200`` is kept in the metadata
cache (children upserted, vanished ones dropped along with their cached bytes, the folder
recorded as listed for that user) and answered with the NAS's items unchanged; any other answer
is passed back as it is. A NAS that does not answer falls back to the cache.

NAS not online: nothing is sent to it. A folder the NAS listed before for this user, or for an
admin when the user may see the folder, is answered from the cache in the NAS's shape, with its
age. A normal user's virtual root (``Shared`` and their home) is always answered. Any other
folder would need the NAS: the request wakes it by the ``WakePolicy`` (an interactive request
does, a background sync does not) and waits ``WAKE_WAIT_SECONDS`` for it; a NAS that is not back
by then gives ``503`` + ``Retry-After``. A cached folder never wakes the NAS: the answer is
there, and its age is shown (``Listing.listed_at``), never hidden.

Every answer, from the NAS or the cache, goes through the ``ListingOverlay`` (pending uploads
and offline changes, issue 5) and is sorted as the NAS sorts.

Client polling stays on the Pi (issue 12): clients list the folder on screen every few seconds,
and every request counts toward the NAS's sleep service's activity. So while the NAS is online a
folder the Pi may answer from its cache (the rules above) is answered from it when the NAS
listed it for this user (or an admin) within ``fresh_for`` (``LISTING_FRESH_SECONDS``). An
older one is answered from the cache at once and listed again in the background, as that user,
if the ``QuietBudget`` has a slot (stale-while-revalidate; a later poll tries again). Only a
folder the Pi cannot answer is asked of the NAS in the request. A folder into which the Pi's
queue just pushed a change (``changed``) is asked of the NAS at the next request: its pending
overlay is gone, and the cache does not hold the change yet. Listings from before this process
started count as stale, as the marks of the process before are lost.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from balupi.clock import Clock
from balupi.errors import NasUnreachable
from balupi.logs import get_logger
from balupi.services.auth import AuthenticatedUser, ForwardedAnswer
from balupi.services.files.access import FileAccess, admit
from balupi.services.files.hooks import FileCacheHooks, ListingOverlay
from balupi.services.files.items import NasEntry, decode_json, render, sorted_items, virtual_folder
from balupi.services.files.metadata import MetadataStore
from balupi.services.files.model import JsonObject, Listing, ListingOrigin
from balupi.services.files.paths import SHARED, SHARED_WITH_ME, Viewer
from balupi.services.files.upstream import NasGate
from balupi.services.nas.gate import Purpose, nas_purpose
from balupi.services.nas.quiet import QuietBudget
from balupi.tasks import TaskOwner

log = get_logger(__name__)

LIST_ENDPOINT = "/api/files/list"


class ListingService:
    """Folder listings for a user, from the NAS or the metadata cache."""

    def __init__(
        self,
        metadata: MetadataStore,
        access: FileAccess,
        gate: NasGate,
        clock: Clock,
        *,
        cache_hooks: FileCacheHooks,
        overlay: ListingOverlay,
        fresh_for: timedelta = timedelta(0),
        budget: QuietBudget | None = None,
    ) -> None:
        """``fresh_for`` 0: every listing is asked of the NAS while it is online."""
        self._metadata = metadata
        self._access = access
        self._gate = gate
        self._clock = clock
        self._cache_hooks = cache_hooks
        self._overlay = overlay
        self._fresh_for = fresh_for
        self._budget = budget
        self._started_at = clock.now()
        self._changed: set[str] = set()
        self._revalidating: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._tasks = TaskOwner("listing-revalidation")

    async def list_folder(
        self, raw_path: str | None, user: AuthenticatedUser, *, trigger: str | None = None
    ) -> Listing | ForwardedAnswer:
        """Folder ``raw_path`` for ``user``: a ``Listing``, or the NAS's non-200 answer.

        Raises ``InvalidPath`` (400), ``AccessDenied`` (403), ``NasAsleep`` /
        ``NasUnreachable`` (503 + Retry-After).
        """
        viewer = await self._access.viewer_for(user)
        online = self._gate.online
        path = admit(viewer, raw_path, nas_decides=online)
        if online:
            held = await self._held(path, user, viewer)
            if held is not None:
                return held
            try:
                answer = await self._from_nas(path, user, viewer, trigger)
            except NasUnreachable:
                cached = await self._from_cache(path, user, viewer)
                if cached is None:
                    raise
                return cached
            return await self._nas_laid_over(answer, path, user, viewer)
        cached = await self._from_cache(path, user, viewer)
        if cached is not None:
            return cached
        if await self._gate.reach(user, "GET", LIST_ENDPOINT, trigger=trigger):
            answer = await self._from_nas(path, user, viewer, trigger)
            return await self._nas_laid_over(answer, path, user, viewer)
        raise self._gate.asleep("BaluPi has not listed this folder before")

    async def refresh(self, path: str, user: AuthenticatedUser) -> bool:
        """List ``path`` on the NAS again so the cache follows a change; True if the NAS
        answered with a listing. Only while it is online; a failure is logged, not raised."""
        if not self._gate.online:
            return False
        viewer = await self._access.viewer_for(user)
        try:
            answer = await self._from_nas(path, user, viewer, None)
        except NasUnreachable as exc:
            log.info("listing refresh failed", path=path, error=str(exc))
            return False
        return isinstance(answer, Listing)

    def changed(self, *folders: str) -> None:
        """The Pi's queue changed these folders on the NAS: the next listing asks the NAS."""
        self._changed.update(folders)

    async def settled(self) -> None:
        """Wait for the background revalidations under way (tests, shutdown)."""
        await asyncio.gather(*self._revalidating.values(), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop the background revalidations (cancelled and awaited)."""
        await self._tasks.aclose()

    # -- from the cache, while the NAS is online -----------------------------------------------
    async def _held(self, path: str, user: AuthenticatedUser, viewer: Viewer) -> Listing | None:
        """The cached listing to answer with while the NAS is online, or None to ask the NAS:
        fresh, or stale and being listed again in the background."""
        if self._fresh_for <= timedelta(0) or path in self._changed or not viewer.can_see(path):
            return None
        cached = await self._from_cache(path, user, viewer)
        if cached is None or cached.listed_at is None:
            return None  # never listed for this user (or an admin): only the NAS can answer
        if (
            cached.listed_at < self._started_at
            or self._clock.now() - cached.listed_at >= self._fresh_for
        ):
            self._revalidate_soon(path, user)
        return cached

    def _revalidate_soon(self, path: str, user: AuthenticatedUser) -> None:
        """List ``path`` again as ``user`` in the background, if the quiet budget allows."""
        key = (path, user.id)
        if key in self._revalidating or (self._budget is not None and not self._budget.take()):
            return
        task = self._tasks.spawn(self._revalidate(path, user), name=f"revalidate {path!r}")
        self._revalidating[key] = task
        task.add_done_callback(lambda _: self._revalidating.pop(key, None))

    async def _revalidate(self, path: str, user: AuthenticatedUser) -> None:
        # Background work for the gate: never wakes a NAS that fell asleep since the link looked.
        try:
            with nas_purpose(Purpose.BACKGROUND):
                await self.refresh(path, user)
        except Exception:  # a background task: the client has had its answer
            log.exception("listing revalidation failed", path=path)

    # -- from the NAS -------------------------------------------------------------------------
    async def _from_nas(
        self, path: str, user: AuthenticatedUser, viewer: Viewer, trigger: str | None
    ) -> Listing | ForwardedAnswer:
        response = await self._gate.call(
            "GET", LIST_ENDPOINT, user, trigger=trigger, params={"path": path}
        )
        answer = ForwardedAnswer.of(response)
        if response.status_code != 200:
            return answer
        try:
            body = await decode_json(response.content)
        except ValueError:
            return answer
        items = body.get("files") if isinstance(body, dict) else None
        if not isinstance(items, list):
            return answer  # not a listing the Pi understands: the client gets it as it is
        await self._remember(path, items, user, viewer)
        self._changed.discard(path)
        headers = {k: v for k, v in answer.headers.items() if k != "content-type"}
        return Listing(path, items, ListingOrigin.NAS, self._clock.now(), headers)

    async def _remember(
        self, path: str, items: list[JsonObject], user: AuthenticatedUser, viewer: Viewer
    ) -> None:
        """Keep what the NAS listed; virtual folders (a user's root, ``Shared with me``) are
        only recorded as visited: their items would overwrite the real folders' rows."""
        if not user.is_admin and path in ("", SHARED_WITH_ME):
            if path == "":
                await self._metadata.record_visit(path, user.id)
            return
        entries = [
            entry
            for entry in map(NasEntry.parse, items)
            if entry is not None and entry.parent_path == path
        ]
        # The NAS just listed ``path`` for this user, so it is theirs to see from now on.
        lister = viewer.with_grants([path]) if not viewer.can_see(path) else viewer
        vanished = await self._metadata.record_listing(
            path,
            entries,
            user_id=user.id,
            lister_saw=lambda row: lister.shows(row.path, row.owner_id),
        )
        for gone in vanished:
            await self._cache_hooks.removed(gone)

    # -- from the cache -----------------------------------------------------------------------
    async def _from_cache(
        self, path: str, user: AuthenticatedUser, viewer: Viewer
    ) -> Listing | None:
        if not user.is_admin and path == "":
            listing: Listing | None = await self._virtual_root(user)
        else:
            listing = await self._cached_folder(path, user, viewer)
        return await self._laid_over(listing, path, user, viewer)

    async def _cached_folder(
        self, path: str, user: AuthenticatedUser, viewer: Viewer
    ) -> Listing | None:
        """The folder as the NAS last listed it for this user or an admin, else None."""
        usable = [
            record
            for record in await self._metadata.listings(path)
            if record.user_id == user.id or record.by_admin
        ]
        if not usable:
            return None
        rows = await self._metadata.children(path)
        items = [render(row) for row in rows if viewer.shows(row.path, row.owner_id)]
        listed_at = max(record.listed_at for record in usable)
        return Listing(path, sorted_items(items), ListingOrigin.CACHE, listed_at)

    async def _virtual_root(self, user: AuthenticatedUser) -> Listing:
        """A normal user's root as the NAS builds it: ``Shared``, then their home (in this
        order, unsorted, as the NAS sends it), both size 0 and without a file id."""
        visits = [r for r in await self._metadata.listings("") if r.user_id == user.id]
        listed_at = visits[0].listed_at if visits else None
        items = []
        for name, owner_id in ((SHARED, None), (user.username, user.id)):
            row = await self._metadata.entry(name)
            modified_at = (row.mtime if row else None) or listed_at or self._clock.now()
            items.append(virtual_folder(name, modified_at, owner_id))
        return Listing("", items, ListingOrigin.CACHE, listed_at)

    async def _nas_laid_over(
        self, answer: Listing | ForwardedAnswer, path: str, user: AuthenticatedUser, viewer: Viewer
    ) -> Listing | ForwardedAnswer:
        if isinstance(answer, ForwardedAnswer):
            return answer  # the NAS's error, as it is
        return await self._laid_over(answer, path, user, viewer) or answer

    async def _laid_over(
        self, listing: Listing | None, path: str, user: AuthenticatedUser, viewer: Viewer
    ) -> Listing | None:
        """``listing`` with the overlay's changes, in the NAS's order."""
        laid = await self._overlay.overlay(listing, path=path, user=user, viewer=viewer)
        if laid is None or laid is listing:
            return laid
        return replace(laid, items=sorted_items(laid.items))
