"""The emulated NAS's state: users, tokens, file metadata and counters.

Everything lives in memory in one ``EmulatedNas`` per emulator (the emulated machine, not a
state of BaluPi's link, which is ``db.models.NasState``). The API socket may be closed and
reopened (sleep and wake) while this object lives on, as a suspended machine keeps its RAM.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from balupi.sim.nas.ratelimit import FixedWindowLimiter
from balupi.sim.nas.sleep import SleepService

if TYPE_CHECKING:
    from _hashlib import HASH

Role = Literal["admin", "user"]

# BaluHost in dev mode caps its storage at NAS_QUOTA_BYTES = 5 GiB (docs/compat/nas-api.md §3.4).
DEV_QUOTA_BYTES = 5 * 1024**3


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A salted scrypt hash, ``salt$hash`` in hex (the emulator's stand-in for bcrypt)."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**12, r=8, p=1)
    return f"{salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    salt_hex, _, _ = stored.partition("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt_hex)), stored)


@dataclass
class NasUser:
    """A BaluHost user. ``public()`` is the NAS's ``UserPublic`` shape."""

    id: int
    username: str
    password_hash: str
    role: Role = "user"
    email: str | None = None
    is_active: bool = True
    smb_enabled: bool = False
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    updated_at: datetime | None = None

    def public(self) -> dict[str, Any]:
        # BaluHost on SQLite writes naive datetimes, no offset (docs/compat/nas-api.md §2.1).
        return {
            "username": self.username,
            "email": self.email,
            "id": self.id,
            "role": self.role,
            "is_active": self.is_active,
            "smb_enabled": self.smb_enabled,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


@dataclass
class FileRecord:
    """A row of BaluHost's ``file_metadata`` table: identity and ownership of one path."""

    id: int
    path: str
    owner_id: int
    is_directory: bool
    checksum: str | None = None


@dataclass
class ChunkedUpload:
    """One chunked upload in flight, in process memory only (docs/compat/nas-api.md §3.5)."""

    id: str
    user_id: int
    target_dir: str
    filename: str
    total_size: int
    temp_path: Path
    received_bytes: int = 0
    next_chunk_index: int = 0
    hasher: HASH = field(default_factory=hashlib.sha256)


def _within(path: str, base: str) -> bool:
    return base == "" or path == base or path.startswith(base + "/")


@dataclass
class ApiKey:
    """A row of BaluHost's ``api_keys`` table; the raw key itself is never stored."""

    user_id: int  # the target user the key acts as
    expires_at: float | None
    is_active: bool = True
    id: int = 0
    name: str = ""
    key_prefix: str = ""  # "balu_" + the key's next 7 characters, shown in listings
    created_by_id: int | None = None
    created_at: float = 0.0


@dataclass
class RegistrationToken:
    """A one-time ``reg_…`` token from ``/api/mobile/token/generate``, valid 5 minutes."""

    token: str
    user_id: int
    device_name: str
    expires_at: float
    used: bool = False


@dataclass
class MobileDevice:
    """A phone registered through ``/api/mobile/register``."""

    id: str
    user_id: int
    device_name: str
    device_type: str
    device_model: str | None
    last_seen: float
    is_active: bool = True


@dataclass
class DesktopDevice:
    """A BaluDesk install registered through ``/api/sync/register-desktop``."""

    device_id: str
    user_id: int
    device_name: str | None


class EmulatedNas:
    """All state of one emulated NAS. Thread-safe for the few writers it has."""

    def __init__(
        self,
        storage: Path,
        jwt_secret: str,
        *,
        access_token_minutes: int = 15,
        clock: Callable[[], float] = time.time,
        login_rate_limit: int | None = 5,
        refresh_rate_limit: int | None = 10,
        quota_bytes: int | None = DEV_QUOTA_BYTES,
    ) -> None:
        self.storage = storage
        self.quota_bytes = quota_bytes  # None: the real free disk space bounds uploads, as in prod
        self.jwt_secret = jwt_secret
        self.access_token_minutes = access_token_minutes
        self.clock = clock
        self.lock = threading.RLock()
        self.users: dict[int, NasUser] = {}
        self.files: dict[str, FileRecord] = {}
        self.api_keys: dict[str, ApiKey] = {}  # sha256 hex of the key -> key
        self.refresh_jtis: set[str] = set()  # jti of every refresh token still valid
        self.chunked_uploads: dict[str, ChunkedUpload] = {}
        self.refresh_token_users: dict[str, int] = {}  # jti -> user id, for logout
        self.registration_tokens: dict[str, RegistrationToken] = {}
        self.mobile_devices: dict[str, MobileDevice] = {}
        self.desktop_devices: dict[str, DesktopDevice] = {}
        # Per client IP, as slowapi limits (docs/compat/nas-api.md §0); None switches a limit off.
        self.login_limiter = FixedWindowLimiter(login_rate_limit, clock)
        self.refresh_limiter = FixedWindowLimiter(refresh_rate_limit, clock)
        self.server_url: str | None = None  # the API's base URL, handed to phones in the QR
        self.booted_at = clock()
        self.mobile_folders: dict[str, dict[str, Any]] = {}  # BaluApp folder configs by id
        self.reported_folders: dict[str, list[str]] = {}  # BaluDesk's report-folders by device
        self.requests_served = 0
        self.requests_in_flight = 0
        self.last_request_at: float | None = None
        # BaluHost's sleep service; its defaults change nothing (auto-idle is off).
        self.sleep = SleepService(clock, active_uploads=lambda: len(self.chunked_uploads))
        self._next_user_id = 1
        self._next_file_id = 1
        self._next_api_key_id = 1

    # -- users -------------------------------------------------------------------------------
    def add_user(self, username: str, password: str, role: Role = "user") -> NasUser:
        """Create a user and their home directory, as BaluHost does on user creation."""
        with self.lock:
            user = NasUser(self._next_user_id, username, hash_password(password), role)
            self._next_user_id += 1
            self.users[user.id] = user
        (self.storage / username).mkdir(parents=True, exist_ok=True)
        self.ensure_file_record(username, user.id, is_directory=True)
        return user

    def user_by_name(self, username: str) -> NasUser | None:
        return next((u for u in self.users.values() if u.username == username), None)

    # -- file metadata -----------------------------------------------------------------------
    def ensure_file_record(
        self, path: str, owner_id: int, *, is_directory: bool, checksum: str | None = None
    ) -> FileRecord:
        """The metadata row of ``path``, created if missing; sets ``checksum`` if given."""
        with self.lock:
            record = self.files.get(path)
            if record is None:
                record = FileRecord(self._next_file_id, path, owner_id, is_directory, checksum)
                self._next_file_id += 1
                self.files[path] = record
            elif checksum is not None:
                record.checksum = checksum
            return record

    def drop_file_record(self, path: str) -> None:
        """Forget the metadata row of ``path`` (its ``file_id`` is gone for good)."""
        with self.lock:
            self.files.pop(path, None)

    def move_file_records(self, old: str, new: str) -> None:
        """Re-key the rows of ``old`` and everything below it to ``new`` after a rename or move.

        Rows already at or below ``new`` are dropped: the rename replaced what they described.
        """
        if old == new:
            return
        with self.lock:
            for path in [p for p in self.files if _within(p, new)]:
                del self.files[path]
            for path in [p for p in self.files if _within(p, old)]:
                record = self.files.pop(path)
                record.path = new + path[len(old) :]
                self.files[record.path] = record

    # -- tokens ----------------------------------------------------------------------------
    def store_refresh_token(self, jti: str, user_id: int) -> None:
        """Remember a refresh token as valid, as BaluHost's ``refresh_tokens`` table does."""
        with self.lock:
            self.refresh_jtis.add(jti)
            self.refresh_token_users[jti] = user_id

    def revoke_refresh_tokens(self, user_id: int) -> int:
        """Revoke every refresh token of ``user_id`` (logout); returns how many there were."""
        with self.lock:
            mine = [jti for jti, owner in self.refresh_token_users.items() if owner == user_id]
            for jti in mine:
                self.refresh_jtis.discard(jti)
                del self.refresh_token_users[jti]
            return len(mine)

    def add_api_key(self, key_hash: str, key: ApiKey) -> ApiKey:
        """Store ``key`` under the SHA-256 hex of the raw key, giving it the next id."""
        with self.lock:
            key.id = self._next_api_key_id
            self._next_api_key_id += 1
            self.api_keys[key_hash] = key
            return key

    # -- machine and counters ----------------------------------------------------------------
    def mark_booted(self) -> None:
        """The machine (re)started its backend: uptime counts from now."""
        self.booted_at = self.clock()

    def uptime_seconds(self) -> float:
        return max(self.clock() - self.booted_at, 0.0)

    def count_request(self) -> None:
        with self.lock:
            self.requests_served += 1

    def begin_request(self) -> None:
        """A request arrived: count it and keep the machine busy until it ends."""
        with self.lock:
            self.requests_served += 1
            self.requests_in_flight += 1
            self.last_request_at = self.clock()

    def end_request(self) -> None:
        with self.lock:
            self.requests_in_flight -= 1
            self.last_request_at = self.clock()

    def reset_counters(self) -> None:
        """Zero the request counter (tests and the demo measure from a known point)."""
        with self.lock:
            self.requests_served = 0
