"""The SSD cache of NAS files (issue 4): store, catalog, single-flight fills, eviction hook,
thumbnails, and the registry of local files (pending uploads) served before everything else."""

from balupi.services.cache.local import LocalFile, LocalFiles
from balupi.services.cache.model import (
    CachedBytes,
    CacheTuning,
    Delivery,
    FileDelivery,
    NotCacheable,
    StreamDelivery,
)
from balupi.services.cache.policy_api import EvictionPolicy
from balupi.services.cache.service import FileCache

__all__ = [
    "CacheTuning",
    "CachedBytes",
    "Delivery",
    "EvictionPolicy",
    "FileCache",
    "FileDelivery",
    "LocalFile",
    "LocalFiles",
    "NotCacheable",
    "StreamDelivery",
]
