"""Lifecycle notices from the NAS: verify them, refuse replays, move the state, keep the snapshot.

BaluHost POSTs ``/api/handshake/nas-coming-online`` (no body) at the end of its start-up and
``/api/handshake/nas-going-offline`` (a snapshot) at a graceful shutdown
(docs/compat/nas-api.md §5.1). Both carry ``X-Balupi-Timestamp`` (Unix seconds) and
``X-Balupi-Signature`` = lowercase hex HMAC-SHA256 under the shared secret over
``METHOD:path:timestamp:sha256hex(signed body)``.

The trap: the NAS hashes a *canonical* serialisation of the body (sorted keys, ``,``/``:``
separators, ASCII escapes) but sends httpx 0.27's default encoding (insertion order, spaces). An
earlier BaluPi hashed the raw bytes and so rejected every shutdown notice. Here the body is
parsed and re-serialised canonically. The hash of the raw bytes is
accepted as well: it binds exactly the bytes that were parsed, so it admits nothing the secret
did not sign, and it lets a future NAS that signs the bytes it sends (a fix BaluHost could make)
work unchanged. Both candidates are always compared, in constant time.

Beyond the signature: the timestamp must lie within ±5 minutes of the Pi's (injected) clock; a
signature already accepted within that window is refused as a replay (a bounded in-memory cache:
after a restart of the Pi a captured notice could be replayed within its five minutes, which can
only repeat a state change the NAS really announced); the body is limited to 256 KiB, counted while
it is read and before it is parsed. The cheap checks run before the body is read.

The shutdown snapshot (hostname, storage, users …: no secrets, no file list) is kept as a JSON file
in ``DATA_DIR/handshake/``, replaced atomically (temporary file, fsync, rename), so the dashboard
can show the NAS while it sleeps.

Size: the verifier, the snapshot store and the receiver carry out the one contract above (what the
NAS signs, how the Pi checks it, what it keeps), and each is checked against that text. The verifier
(canonical JSON, signature, replay cache) is the seam for a split if the module grows.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import hmac
import json
import math
import re
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio

from balupi.clock import Clock, utc_iso
from balupi.config import MIN_SECRET_LENGTH as MIN_SECRET_LENGTH  # app, doctor use it
from balupi.durable import replace_atomically
from balupi.errors import BaluPiError
from balupi.lifecycle import Lifecycle
from balupi.logs import get_logger

if TYPE_CHECKING:
    from balupi.services.nas.link import NasLink

log = get_logger(__name__)

COMING_ONLINE_PATH = "/api/handshake/nas-coming-online"
GOING_OFFLINE_PATH = "/api/handshake/nas-going-offline"
TIMESTAMP_HEADER = "X-Balupi-Timestamp"
SIGNATURE_HEADER = "X-Balupi-Signature"
FRESHNESS_SECONDS = 300  # ±5 minutes: NAS and Pi clocks both follow NTP, but not to the second
MAX_NOTICE_BYTES = 256 * 1024  # BaluHost says "~50 KB max" for its snapshot
REPLAY_CAPACITY = 1024  # only verified notices enter; the NAS sends two per boot cycle
# BaluHost's snapshot is four levels deep; far deeper bodies would overflow Python's stack
# wherever the snapshot is walked (stored, cleaned of NaN, served).
MAX_NOTICE_DEPTH = 64
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}$")


# -- signing: the NAS's rule, shared with the NAS emulator -----------------------------------------
def canonical_json(body: object) -> bytes:
    """The serialisation BaluHost's signature covers: sorted keys, ``,``/``:``, ASCII escapes."""
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")


def notice_signature(secret: str, method: str, path: str, timestamp: str, signed: bytes) -> str:
    """Lowercase hex HMAC-SHA256 over ``METHOD:path:timestamp:sha256hex(signed)``."""
    digest = hashlib.sha256(signed).hexdigest()
    message = f"{method.upper()}:{path}:{timestamp}:{digest}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_notice(secret: str, method: str, path: str, timestamp: str, body: object | None) -> str:
    """``X-Balupi-Signature`` exactly as BaluHost computes it: over the canonical JSON of the
    body, or over the empty string when there is none."""
    signed = canonical_json(body) if body is not None else b""
    return notice_signature(secret, method, path, timestamp, signed)


# -- errors ----------------------------------------------------------------------------------------
class NoticeError(BaluPiError):
    """A lifecycle notice was not accepted."""

    code = "notice_error"


class NoticeRejected(NoticeError):
    """Unsigned, wrongly signed, stale or replayed (answered 401)."""

    code = "notice_rejected"
    status_code = 401  # no WWW-Authenticate: the NAS signs, it does not log in


class NoticeTooLarge(NoticeError):
    """The body exceeds the limit (answered 413); it was not read further."""

    code = "notice_too_large"
    status_code = 413


class NoticeMalformed(NoticeError):
    """Signed, but no snapshot the Pi can keep: nested past ``MAX_NOTICE_DEPTH`` (answered 422)."""

    code = "notice_malformed"
    status_code = 422


class NoticesDisabled(NoticeError):
    """No ``NAS_HANDSHAKE_SECRET`` is configured, so nothing can be verified (answered 503)."""

    code = "notices_disabled"
    status_code = 503  # no Retry-After: nothing changes until the secret is configured


# -- verification ----------------------------------------------------------------------------------
class NoticeKind(enum.StrEnum):
    COMING_ONLINE = "coming_online"
    GOING_OFFLINE = "going_offline"


@dataclass(frozen=True)
class NoticeStamp:
    """The signature headers, checked for form and freshness (before the body is read)."""

    timestamp: str
    seconds: int
    signature: str


@dataclass(frozen=True)
class VerifiedNotice:
    seconds: int
    body: object | None  # the parsed JSON; None for an empty (or non-JSON, raw-signed) body
    signed_over: Literal["canonical", "raw"]


class NoticeVerifier:
    """Checks signature, freshness and uniqueness of notices signed with one secret."""

    def __init__(
        self,
        secret: str,
        clock: Clock,
        *,
        window: float = FRESHNESS_SECONDS,
        replay_capacity: int = REPLAY_CAPACITY,
    ) -> None:
        if not secret:
            raise ValueError("the handshake secret must not be empty")
        self._secret = secret
        self._clock = clock
        self.window = window
        self._capacity = replay_capacity
        self._seen: dict[str, float] = {}  # signature → Unix time after which it is stale anyway

    @property
    def remembered(self) -> int:
        """How many accepted, still fresh signatures the replay cache holds (≤ its capacity)."""
        self._forget_stale()
        return len(self._seen)

    def check_stamp(self, timestamp: str | None, signature: str | None) -> NoticeStamp:
        """The header checks that need no body: present, well-formed, fresh."""
        if not timestamp or not signature:
            raise NoticeRejected(f"Missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
        if not _TIMESTAMP.match(timestamp):
            raise NoticeRejected(f"Invalid {TIMESTAMP_HEADER}")
        if not _SIGNATURE.match(signature):
            raise NoticeRejected("Invalid signature")
        seconds = int(timestamp)
        self._check_fresh(seconds)
        return NoticeStamp(timestamp, seconds, signature.lower())

    async def verify(
        self, stamp: NoticeStamp, *, method: str, path: str, body: bytes
    ) -> VerifiedNotice:
        """Signature (parsing and hashing off the event loop), then the replay check."""
        notice = await anyio.to_thread.run_sync(self._match, stamp, method, path, body)
        # Checked and recorded without an await in between: of two concurrent copies of one
        # notice, exactly one gets through.
        self._remember(stamp)
        return notice

    def _match(self, stamp: NoticeStamp, method: str, path: str, body: bytes) -> VerifiedNotice:
        parsed: object | None = None
        canonical: bytes | None = b""  # an empty body is signed as the empty string
        if body:
            canonical = None
            with contextlib.suppress(ValueError, RecursionError):  # not JSON: raw hash only
                parsed = json.loads(body)
                canonical = canonical_json(parsed)
        expected_raw = notice_signature(self._secret, method, path, stamp.timestamp, body)
        raw_ok = hmac.compare_digest(expected_raw, stamp.signature)
        canonical_ok = False
        if canonical is not None:
            expected = notice_signature(self._secret, method, path, stamp.timestamp, canonical)
            canonical_ok = hmac.compare_digest(expected, stamp.signature)
        if not (canonical_ok or raw_ok):
            raise NoticeRejected("Invalid signature")
        if canonical is not None and _nesting(parsed) > MAX_NOTICE_DEPTH:
            raise NoticeMalformed("Notice body nested too deeply")
        return VerifiedNotice(
            stamp.seconds, parsed if canonical is not None else None, _scheme(canonical_ok)
        )

    def _remember(self, stamp: NoticeStamp) -> None:
        # Fresh again, now that the body is in: a body trickled in past the window could
        # otherwise outlive the cache entry of the notice it replays.
        self._check_fresh(stamp.seconds)
        self._forget_stale()
        if stamp.signature in self._seen:
            raise NoticeRejected("Notice already received (replay)")
        if len(self._seen) >= self._capacity:
            # Only the secret's holder can fill the cache; drop the entry that goes stale first.
            del self._seen[min(self._seen, key=self._seen.__getitem__)]
        self._seen[stamp.signature] = stamp.seconds + self.window

    def _check_fresh(self, seconds: int) -> None:
        if abs(self._now() - seconds) > self.window:
            raise NoticeRejected("Notice timestamp outside the allowed window")

    def _forget_stale(self) -> None:
        """Drop signatures whose timestamps have left the window: those fail the freshness
        check anyway."""
        now = self._now()
        for signature, stale_at in list(self._seen.items()):
            if stale_at < now:
                del self._seen[signature]

    def _now(self) -> float:
        return self._clock.now().timestamp()


def _nesting(value: object) -> int:
    """How many arrays and objects deep ``value`` goes; iterative, so any depth is measured."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def _scheme(canonical: bool) -> Literal["canonical", "raw"]:
    return "canonical" if canonical else "raw"


async def read_limited(chunks: AsyncIterable[bytes], limit: int, declared: int | None) -> bytes:
    """The whole body, or ``NoticeTooLarge`` as soon as it is known to exceed ``limit``:
    at once from ``Content-Length``, else after at most ``limit`` bytes plus one chunk."""
    if declared is not None and declared > limit:
        raise NoticeTooLarge(f"Notice body larger than {limit} bytes")
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            raise NoticeTooLarge(f"Notice body larger than {limit} bytes")
    return bytes(buffer)


# -- the snapshot ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredSnapshot:
    received_at: datetime
    notice_timestamp: int
    snapshot: dict[str, Any]

    @property
    def nas_hostname(self) -> str | None:
        system = self.snapshot.get("system")
        hostname = system.get("hostname") if isinstance(system, dict) else None
        return hostname if isinstance(hostname, str) and hostname else None


class SnapshotStore:
    """The latest shutdown snapshot as ``snapshot.json`` in one directory. Blocking: run the
    methods in a worker thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "snapshot.json"

    def load(self) -> StoredSnapshot | None:
        """The stored snapshot; None if there is none or it cannot be read (logged)."""
        try:
            record = json.loads(self.path.read_bytes())
            return StoredSnapshot(
                datetime.fromisoformat(record["received_at"]),
                int(record["notice_timestamp"]),
                dict(record["snapshot"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("stored nas snapshot unreadable", path=str(self.path), error=str(exc))
            return None

    def save(self, stored: StoredSnapshot) -> None:
        """Replace the file atomically: a crash leaves the old snapshot or the new, never half."""
        data = json.dumps(
            {
                "received_at": utc_iso(stored.received_at),
                "notice_timestamp": stored.notice_timestamp,
                "snapshot": stored.snapshot,
            },
            ensure_ascii=False,
            allow_nan=False,
        ).encode()
        # The file is created 0600 (mkstemp): the snapshot lists the NAS's user names.
        replace_atomically(self.path, data)


def _finite(value: Any) -> Any:
    """The snapshot with NaN/Infinity as null: Python's JSON lets the NAS send them, but no
    browser can parse them back."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


# -- the service -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class NoticeReceipt:
    kind: NoticeKind
    nas_state: str
    snapshot_stored: bool = False


@dataclass(frozen=True)
class HandshakeStatus:
    """What ``GET /api/handshake/status`` shows (the NAS web client's Pi build reads it)."""

    nas_state: str
    since: datetime | None
    configured: bool
    last_snapshot_at: datetime | None
    last_notice: tuple[NoticeKind, datetime] | None

    def as_dict(self) -> dict[str, Any]:
        snapshot_at = utc_iso(self.last_snapshot_at) if self.last_snapshot_at else None
        return {
            "nas_state": self.nas_state,
            "since": utc_iso(self.since) if self.since else None,
            "handshake_configured": self.configured,
            "last_snapshot": snapshot_at,  # the upstream Pi's name for it
            "last_snapshot_at": snapshot_at,
            "last_notice": (
                {"kind": self.last_notice[0].value, "received_at": utc_iso(self.last_notice[1])}
                if self.last_notice
                else None
            ),
            # The upstream Pi's SMB inbox; BaluPi has none, so it is always empty.
            "inbox_size_mb": 0.0,
            "inbox_files": 0,
        }


class LifecycleNotices(Lifecycle):
    """Receives the NAS's signed notices: moves the ``NasLink`` at once and keeps the snapshot.

    A ``Lifecycle`` for its one start-up step (the snapshot kept from before a restart is
    loaded once: a second start is refused); it holds no task or file, so closing releases
    nothing.
    """

    def __init__(
        self,
        link: NasLink,
        verifier: NoticeVerifier | None,
        store: SnapshotStore,
        clock: Clock,
        *,
        max_bytes: int = MAX_NOTICE_BYTES,
    ) -> None:
        self._link = link
        self._verifier = verifier
        self._store = store
        self._clock = clock
        self.max_bytes = max_bytes
        self._snapshot: StoredSnapshot | None = None
        self._last_notice: tuple[NoticeKind, datetime] | None = None
        self._saving = anyio.Lock()

    @property
    def configured(self) -> bool:
        return self._verifier is not None

    @property
    def snapshot(self) -> StoredSnapshot | None:
        return self._snapshot

    def nas_hostname(self) -> str | None:
        """The NAS's hostname from its last signed snapshot (mDNS uses it to recognise it)."""
        return self._snapshot.nas_hostname if self._snapshot else None

    async def _open(self) -> None:
        """Load the snapshot kept from before a restart."""
        self._snapshot = await anyio.to_thread.run_sync(self._store.load)

    async def receive(
        self,
        kind: NoticeKind,
        *,
        method: str,
        path: str,
        timestamp: str | None,
        signature: str | None,
        body: AsyncIterable[bytes],
        declared_length: int | None = None,
    ) -> NoticeReceipt:
        """Check one notice and act on it; ``NoticeError`` subclasses say why it was refused."""
        if self._verifier is None:
            raise NoticesDisabled("Handshake not configured (BALUPI_NAS_HANDSHAKE_SECRET)")
        try:
            stamp = self._verifier.check_stamp(timestamp, signature)
            raw = await read_limited(body, self.max_bytes, declared_length)
            notice = await self._verifier.verify(stamp, method=method, path=path, body=raw)
        except NoticeError as exc:
            log.warning("lifecycle notice refused", kind=kind.value, reason=str(exc))
            raise
        received_at = self._clock.now()
        self._last_notice = (kind, received_at)
        evidence = f"lifecycle notice: {kind.value.replace('_', ' ')} (signed {stamp.timestamp})"
        stored = False
        if kind is NoticeKind.COMING_ONLINE:
            await self._link.report_coming_online(evidence)
        else:
            await self._link.report_going_offline(evidence)
            stored = await self._keep_snapshot(notice, received_at)
        log.info(
            "lifecycle notice",
            kind=kind.value,
            signed_over=notice.signed_over,
            nas_state=self._link.state.value,
        )
        return NoticeReceipt(kind, self._link.state.value, stored)

    async def _keep_snapshot(self, notice: VerifiedNotice, received_at: datetime) -> bool:
        if not isinstance(notice.body, dict):
            log.warning("going-offline notice without a snapshot object")
            return False
        stored = StoredSnapshot(received_at, notice.seconds, _finite(notice.body))
        async with self._saving:  # file and memory change together, one notice at a time
            try:
                await anyio.to_thread.run_sync(self._store.save, stored)
            except OSError as exc:  # the state already moved; a full disk must not hide that
                log.error("nas snapshot not stored", error=str(exc))
                return False
            self._snapshot = stored
        return True

    def status(self) -> HandshakeStatus:
        link = self._link.snapshot
        return HandshakeStatus(
            nas_state=link.state.value,
            since=link.since,
            configured=self.configured,
            last_snapshot_at=self._snapshot.received_at if self._snapshot else None,
            last_notice=self._last_notice,
        )
