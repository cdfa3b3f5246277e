"""Building the cache for one running BaluPi: ``start_cache`` in the app's lifespan."""

from __future__ import annotations

import contextlib

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.clock import Clock
from balupi.config import Settings
from balupi.services.cache.catalog import Catalog
from balupi.services.cache.model import CacheTuning
from balupi.services.cache.policies import DEFAULT_POLICY, Policy, make_policy
from balupi.services.cache.service import FileCache
from balupi.services.cache.sources import JailViewers, ListingSource, NoListings, ViewerSource
from balupi.services.cache.store import ContentStore
from balupi.services.cache.thumbnails import Thumbnails
from balupi.services.nas.link import NasLink
from balupi.services.nas.wake import NasWaker


async def start_cache(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    link: NasLink,
    waker: NasWaker,
    clock: Clock,
    stack: contextlib.AsyncExitStack,
    *,
    policy: Policy | None = None,
    listings: ListingSource | None = None,
    viewers: ViewerSource | None = None,
) -> tuple[FileCache, Thumbnails]:
    """The started cache and thumbnailer; stopped (counts flushed) when ``stack`` closes."""
    cache = FileCache(
        store=ContentStore(settings.cache_dir),
        catalog=Catalog(sessions),
        link=link,
        waker=waker,
        clock=clock,
        policy=policy or make_policy(DEFAULT_POLICY, clock=clock),
        listings=listings or NoListings(),
        viewers=viewers or JailViewers(),
        tuning=CacheTuning.from_settings(settings),
    )
    await stack.enter_async_context(cache)
    thumbnails = Thumbnails(cache, settings.thumbnails_dir)
    await thumbnails.start()
    return cache, thumbnails
