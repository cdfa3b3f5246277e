"""All tables, importable from one place so ``Base.metadata`` is always complete.

Alembic compares the models with the database through ``Base.metadata``; a model module
that nobody imported would look like a table to drop. Importing this package imports them all.
"""

from balupi.db.models.auth import CachedToken, RevokedRefreshToken, TokenVerdict, User
from balupi.db.models.base import Base, UtcDateTime, utc_now
from balupi.db.models.energy import (
    DeviceRole,
    EnergyDaily,
    EnergyHourly,
    EnergyPrice,
    EnergySample,
    TapoDevice,
)
from balupi.db.models.files import CachedFile, DirectoryListing, FileMetadata
from balupi.db.models.nas import NasState, NasTransition, Server
from balupi.db.models.sync import (
    Conflict,
    ConflictStatus,
    QueueOperation,
    QueueStatus,
    SyncDirection,
    SyncLogEntry,
    UploadQueueEntry,
)

__all__ = [
    "Base",
    "CachedFile",
    "CachedToken",
    "Conflict",
    "ConflictStatus",
    "DeviceRole",
    "DirectoryListing",
    "EnergyDaily",
    "EnergyHourly",
    "EnergyPrice",
    "EnergySample",
    "FileMetadata",
    "NasState",
    "NasTransition",
    "QueueOperation",
    "QueueStatus",
    "RevokedRefreshToken",
    "Server",
    "SyncDirection",
    "SyncLogEntry",
    "TapoDevice",
    "TokenVerdict",
    "UploadQueueEntry",
    "User",
    "UtcDateTime",
    "utc_now",
]
