"""BaluPi's data layer: a small SQLite database, tuned for a Raspberry Pi, with Alembic migrations.

``engine`` builds the async engine and session factory, ``models`` declares the tables and
``migrate`` brings any database file (empty or older) to the schema this code expects.
Nothing here opens a file or a connection at import time; callers build what they need.
"""

from balupi.db.engine import create_engine, create_sessionmaker, default_database_url
from balupi.db.migrate import current_revision, head_revision, upgrade_to_head

__all__ = [
    "create_engine",
    "create_sessionmaker",
    "current_revision",
    "default_database_url",
    "head_revision",
    "upgrade_to_head",
]
