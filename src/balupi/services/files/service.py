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

from balupi.clock import Clock
from balupi.db.models import FileMetadata
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
from balupi.services.files.paths import Viewer
from balupi.services.files.upstream import NasGate


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
    ) -> FileServices:
        # ``is None``, not ``or``: a hook object may well be falsy (an empty cache has a len 0).
        hooks = NoFileCache() if cache_hooks is None else cache_hooks
        listing = ListingService(
            metadata,
            access,
            gate,
            clock,
            cache_hooks=hooks,
            overlay=NoOverlay() if overlay is None else overlay,
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

    # The read API the file cache and the uploads use.
    async def entry(self, path: str) -> FileMetadata | None:
        """What the NAS last listed at ``path`` (checksum, size, mtime …), or None; no NAS
        request. ``path`` must be normalised."""
        return await self.metadata.entry(path)

    async def viewer_for(self, user: AuthenticatedUser) -> Viewer:
        """``user``'s visibility rules, with the shares the NAS granted them."""
        return await self.access.viewer_for(user)
