"""``FileServices``: the files area as the app holds it, built once in the lifespan.

Build order matters for the parts that plug in: the metadata store and the access rules come
first (the file cache reads them), then listings and mutations, which take the file cache's
hooks, the overlay and the offline strategy:

    metadata = MetadataStore(sessions, clock)
    access = FileAccess(metadata)
    cache = …  # may use metadata.entry and access.viewer_for
    files = FileServices.create(metadata, access, gate, clock, cache_hooks=cache, …)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from balupi.clock import Clock
from balupi.db.models import FileMetadata, UploadQueueEntry
from balupi.services.auth import AuthenticatedUser
from balupi.services.files.access import FileAccess
from balupi.services.files.hooks import (
    FileCacheHooks,
    ListingOverlay,
    NoFileCache,
    NoOverlay,
    OfflineMutations,
)
from balupi.services.files.listing import ListingService
from balupi.services.files.metadata import MetadataStore
from balupi.services.files.mutations import MutationService, WakeOrRefuse
from balupi.services.files.paths import Viewer, parent_of
from balupi.services.files.upstream import NasGate
from balupi.services.nas.quiet import QuietBudget


@dataclass(frozen=True)
class FileServices:
    metadata: MetadataStore
    access: FileAccess
    listing: ListingService
    mutations: MutationService

    @classmethod
    def create(
        cls,
        metadata: MetadataStore,
        access: FileAccess,
        gate: NasGate,
        clock: Clock,
        *,
        cache_hooks: FileCacheHooks | None = None,
        overlay: ListingOverlay | None = None,
        offline: OfflineMutations | None = None,
        fresh_for: timedelta = timedelta(0),
        budget: QuietBudget | None = None,
    ) -> FileServices:
        """``fresh_for`` and ``budget``: how long a cached listing answers for the NAS, and
        how often one may be listed again in the background (``listing.ListingService``)."""
        # ``is None``, not ``or``: a hook object may well be falsy (an empty cache has a len 0).
        hooks = NoFileCache() if cache_hooks is None else cache_hooks
        listing = ListingService(
            metadata,
            access,
            gate,
            clock,
            cache_hooks=hooks,
            overlay=NoOverlay() if overlay is None else overlay,
            fresh_for=fresh_for,
            budget=budget,
        )
        mutations = MutationService(
            metadata,
            access,
            gate,
            listing,
            cache_hooks=hooks,
            offline=WakeOrRefuse(gate) if offline is None else offline,
        )
        return cls(metadata, access, listing, mutations)

    async def pushed(self, entry: UploadQueueEntry) -> None:
        """The sync worker is done with ``entry`` (``SyncWorker.on_synced``): the folders it
        touched are listed by the NAS next time, as the overlay no longer shows it."""
        folders = [entry.target_path, entry.source_path]
        self.listing.changed(*(parent_of(path) for path in folders if path is not None))

    async def aclose(self) -> None:
        """Stop the background revalidations (at shutdown, before the database goes)."""
        await self.listing.aclose()

    # The read API the file cache and the uploads use.
    async def entry(self, path: str) -> FileMetadata | None:
        """What the NAS last listed at ``path`` (checksum, size, mtime …), or None; no NAS
        request. ``path`` must be normalised."""
        return await self.metadata.entry(path)

    async def viewer_for(self, user: AuthenticatedUser) -> Viewer:
        """``user``'s visibility rules, with the shares the NAS granted them."""
        return await self.access.viewer_for(user)
