"""What the Pi knows about the NAS's files, and which of them it holds on its own disk.

BaluHost identifies a file by its **path** (relative POSIX, no leading slash, ``""`` is the
root); ``file_id`` is an optional integer the NAS assigns to API-tracked files, and content
identity is the SHA-256 ``checksum`` the NAS stored at upload time (docs/compat/nas-api.md §3.7). So
every table here is keyed by path, and SHA-256 is the content key of the cache store.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from balupi.db.models.base import Base, utc_now

PATH_LENGTH = 4096
SHA256_HEX_LENGTH = 64


class FileMetadata(Base):
    """One entry of a NAS directory listing, as the NAS last listed it (the offline index).

    Field meanings follow the NAS's ``FileItem``: ``size`` is bytes (for directories the
    NAS's recursive size), ``mtime`` the NAS's ``modified_at``, ``checksum`` its SHA-256 hex
    or ``None``. ``listed_at`` is when this entry was last seen in a NAS answer, so staleness
    can be shown rather than hidden.
    """

    __tablename__ = "file_metadata_cache"

    path: Mapped[str] = mapped_column(String(PATH_LENGTH), primary_key=True)
    parent_path: Mapped[str] = mapped_column(String(PATH_LENGTH), index=True)
    name: Mapped[str] = mapped_column(String(1024))
    is_directory: Mapped[bool]
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    mtime: Mapped[datetime | None]
    checksum: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH))
    file_id: Mapped[int | None]
    owner_id: Mapped[str | None] = mapped_column(String(64))
    owner_name: Mapped[str | None] = mapped_column(String(255))
    mime_type: Mapped[str | None] = mapped_column(String(255))
    listed_at: Mapped[datetime] = mapped_column(default=utc_now)


class DirectoryListing(Base):
    """The NAS listed directory ``path`` for ``user_id`` at ``listed_at``.

    This is how the Pi knows, while the NAS sleeps, which folders a user may browse beyond
    the path rules it can check itself (``Shared``, their home, everything for admins): shares
    only become visible through what the NAS showed that user. It also dates each user's view.
    """

    __tablename__ = "directory_listings"

    path: Mapped[str] = mapped_column(String(PATH_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    listed_at: Mapped[datetime] = mapped_column(default=utc_now)


class CachedFile(Base):
    """A NAS file whose bytes are stored on the Pi.

    The store is content-addressed: ``stored_name`` (relative to the cache directory,
    normally derived from ``sha256``) may be shared by several paths with identical content.
    ``etag`` and ``last_modified`` are the NAS's download headers, used to revalidate.
    ``hits`` / ``last_access_at`` are written in batches, not per request; ``hotness`` is the
    eviction score last computed from them. ``pinned`` entries are never evicted.
    """

    __tablename__ = "cached_files"

    path: Mapped[str] = mapped_column(String(PATH_LENGTH), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH), index=True)
    stored_name: Mapped[str] = mapped_column(String(255))
    etag: Mapped[str | None] = mapped_column(String(255))
    last_modified: Mapped[datetime | None]
    hits: Mapped[int] = mapped_column(default=0)
    last_access_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # When the stored bytes were last re-hashed and found to match ``sha256``.
    verified_at: Mapped[datetime | None]
    hotness: Mapped[float] = mapped_column(default=0.0)
    pinned: Mapped[bool] = mapped_column(default=False)
    # Who asked for the pin: a JSON list of user ids. A user may lift only their own claim; the
    # pin holds while any claim remains. Pins from before owners were kept have none (admins).
    pinned_by: Mapped[str | None] = mapped_column(Text)
