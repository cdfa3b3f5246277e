"""The plug's side of TP-Link's KLAP transport (v2, as Tapo P110/P115 firmware speaks it).

A client logs in with two handshakes and then sends AES-encrypted requests:

``POST /app/handshake1``  body: the client's 16-byte ``local_seed``.
    The plug answers ``remote_seed`` (16 random bytes) followed by
    ``sha256(local_seed + remote_seed + auth_hash)`` and sets the cookie
    ``TP_SESSIONID=<id>;TIMEOUT=<seconds>``. The plug cannot know who is asking, so it always
    answers with the hash of *its own* credentials: a client holding other credentials sees a
    hash it cannot reproduce and gives up (python-kasa raises ``AuthenticationError``). That is
    how wrong credentials fail on a real plug, and so here.
``POST /app/handshake2``  body: ``sha256(remote_seed + local_seed + auth_hash)``.
    The client proves it knows the credentials too; only then is the session usable.
``POST /app/request?seq=N``  body: ``signature(32) + AES-CBC(json)``.
    Key, IV prefix, first sequence number and signing key all derive from the two seeds and
    ``auth_hash``; the IV's last four bytes are the request's ``seq``. The answer is encrypted
    with the same ``seq`` (the client decrypts it with the cipher it used for the request).

``auth_hash`` for v2 is ``sha256(sha1(username) + sha1(password))``. A plug never bound to a
cloud account has blank credentials; python-kasa tries those (and TP-Link's published default
accounts) when the plug's hash does not match its own, so an emulator configured with
``username="" password=""`` behaves like a factory-fresh plug that anyone can control.
The emulator never answers with those fallback hashes otherwise: a configured account is the
only one it accepts, which keeps "wrong password" tests honest.

Failures on the HTTP level use the status codes python-kasa reacts to: 403 for anything a new
handshake would fix (unknown, expired or unconfirmed session, a bad signature, a replayed
``seq``), which python-kasa answers by logging in again; 400 for malformed bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from collections import OrderedDict
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from balupi.clock import Clock

SEED_BYTES = 16
HASH_BYTES = 32
DEFAULT_SESSION_TIMEOUT_S = 86_400  # what real plugs put in the TIMEOUT cookie

_SEQ = struct.Struct(">i")  # signed 32-bit, big-endian, as the IV suffix and in the signature


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _sha1(data: bytes) -> bytes:
    return hashlib.sha1(data, usedforsecurity=False).digest()


def auth_hash_v2(username: str, password: str) -> bytes:
    """The secret both sides derive from the Tapo account (KLAP v2)."""
    return _sha256(_sha1(username.encode()) + _sha1(password.encode()))


def handshake1_proof(local_seed: bytes, remote_seed: bytes, auth_hash: bytes) -> bytes:
    """What the plug sends after its seed in handshake1 (the client checks it)."""
    return _sha256(local_seed + remote_seed + auth_hash)


def handshake2_proof(local_seed: bytes, remote_seed: bytes, auth_hash: bytes) -> bytes:
    """What the client sends in handshake2 (the plug checks it)."""
    return _sha256(remote_seed + local_seed + auth_hash)


class KlapRejected(Exception):
    """A KLAP message the plug refuses; ``status`` is the HTTP status it answers with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _forbidden(reason: str) -> KlapRejected:
    return KlapRejected(403, reason)


def _malformed(reason: str) -> KlapRejected:
    return KlapRejected(400, reason)


class KlapCipher:
    """The symmetric part of a session: AES-128-CBC keyed by the seeds, signed per ``seq``.

    Symmetric on purpose: the plug opens requests and seals answers with the same object, and a
    test can play the client with it.
    """

    def __init__(self, local_seed: bytes, remote_seed: bytes, auth_hash: bytes) -> None:
        material = local_seed + remote_seed + auth_hash
        self._key = _sha256(b"lsk" + material)[:16]
        full_iv = _sha256(b"iv" + material)
        self._iv_prefix = full_iv[:12]
        self.initial_seq: int = _SEQ.unpack(full_iv[-4:])[0]
        self._sig_key = _sha256(b"ldk" + material)[:28]

    def _aes(self, seq: int) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._iv_prefix + _SEQ.pack(seq)))

    def _signature(self, seq: int, ciphertext: bytes) -> bytes:
        return _sha256(self._sig_key + _SEQ.pack(seq) + ciphertext)

    def seal(self, seq: int, plaintext: bytes) -> bytes:
        """Encrypt and sign ``plaintext`` as message number ``seq``."""
        padder = padding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = self._aes(seq).encryptor()
        ciphertext = encryptor.update(padded) + encryptor.finalize()
        return self._signature(seq, ciphertext) + ciphertext

    def open(self, seq: int, payload: bytes) -> bytes:
        """Check the signature of message ``seq`` and decrypt it."""
        signature, ciphertext = payload[:HASH_BYTES], payload[HASH_BYTES:]
        if len(signature) != HASH_BYTES or not ciphertext or len(ciphertext) % 16:
            raise _malformed("request body is not signature + whole AES blocks")
        if not hmac.compare_digest(signature, self._signature(seq, ciphertext)):
            raise _forbidden("request signature does not match the session")
        decryptor = self._aes(seq).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError as exc:
            raise _malformed("request padding is invalid") from exc


@dataclass
class KlapSession:
    """One login: created by handshake1, usable once handshake2 has confirmed it."""

    session_id: str
    local_seed: bytes
    remote_seed: bytes
    created_at: float  # Clock.monotonic()
    cipher: KlapCipher
    confirmed: bool = False
    last_seq: int = field(init=False)

    def __post_init__(self) -> None:
        # The client's first request uses initial_seq + 1; anything at or below the last seen
        # number is a replay.
        self.last_seq = self.cipher.initial_seq


class KlapSessions:
    """The plug's KLAP sessions, expired by the injected clock, bounded in number.

    ``timeout_s`` is sent as the ``TIMEOUT`` cookie and enforced from the session's creation, as
    python-kasa assumes (it logs in again 20 minutes before its own estimate of the expiry).
    With the current aiohttp, python-kasa reads only ``TP_SESSIONID`` from the one-header cookie
    and assumes 24 hours, the default here too; with a shorter ``timeout_s`` it learns of the
    expiry from the 403 and logs in again, which is what the tests exercise.
    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        clock: Clock,
        timeout_s: int = DEFAULT_SESSION_TIMEOUT_S,
        max_sessions: int = 16,
    ) -> None:
        if timeout_s <= 0 or max_sessions <= 0:
            raise ValueError("session timeout and session limit must be positive")
        self._auth_hash = auth_hash_v2(username, password)
        self._clock = clock
        self.timeout_s = timeout_s
        self._max_sessions = max_sessions
        self._sessions: OrderedDict[str, KlapSession] = OrderedDict()
        self.handshakes = 0  # completed logins, for tests and the demo's status line

    def __len__(self) -> int:
        return len(self.active())

    def active(self) -> list[KlapSession]:
        """The sessions that have not expired, oldest first."""
        self._drop_expired()
        return list(self._sessions.values())

    def cookie(self, session_id: str) -> str:
        """The ``Set-Cookie`` value handshake1 answers with, in the plug's one-header form."""
        return f"TP_SESSIONID={session_id};TIMEOUT={self.timeout_s}"

    def handshake1(self, local_seed: bytes) -> tuple[str, bytes]:
        """Start a session for ``local_seed``; returns its id and the response body."""
        if len(local_seed) != SEED_BYTES:
            raise _malformed(f"handshake1 needs a {SEED_BYTES}-byte seed")
        self._drop_expired()
        remote_seed = secrets.token_bytes(SEED_BYTES)
        session = KlapSession(
            session_id=secrets.token_hex(16).upper(),
            local_seed=local_seed,
            remote_seed=remote_seed,
            created_at=self._clock.monotonic(),
            cipher=KlapCipher(local_seed, remote_seed, self._auth_hash),
        )
        self._sessions[session.session_id] = session
        while len(self._sessions) > self._max_sessions:
            self._sessions.popitem(last=False)  # the oldest login loses its place
        return session.session_id, remote_seed + handshake1_proof(
            local_seed, remote_seed, self._auth_hash
        )

    def handshake2(self, session_id: str | None, client_proof: bytes) -> None:
        """Confirm the session if the client proved it holds the plug's credentials."""
        session = self._lookup(session_id)
        expected = handshake2_proof(session.local_seed, session.remote_seed, self._auth_hash)
        if not hmac.compare_digest(client_proof, expected):
            # A client with wrong credentials never gets here through python-kasa (it stops
            # after handshake1); one that does must not keep a half-open session around.
            del self._sessions[session.session_id]
            raise _forbidden("handshake2 proof does not match the plug's credentials")
        session.confirmed = True
        self.handshakes += 1

    def open_request(
        self, session_id: str | None, seq: int, payload: bytes
    ) -> tuple[KlapSession, bytes]:
        """Check the session, ``seq`` and the signature; returns the session and the plaintext.

        Seal the answer with ``session.cipher.seal(seq, …)``.
        """
        session = self._lookup(session_id)
        if not session.confirmed:
            raise _forbidden("session has not completed handshake2")
        if not -(2**31) <= seq < 2**31:
            raise _malformed("seq is not a signed 32-bit number")
        if seq <= session.last_seq:
            raise _forbidden(f"seq {seq} was already used in this session")
        plaintext = session.cipher.open(seq, payload)  # raises before last_seq moves on
        session.last_seq = seq
        return session, plaintext

    def _lookup(self, session_id: str | None) -> KlapSession:
        self._drop_expired()
        session = self._sessions.get(session_id or "")
        if session is None:
            raise _forbidden("unknown or expired TP_SESSIONID")
        return session

    def _drop_expired(self) -> None:
        deadline = self._clock.monotonic() - self.timeout_s
        expired = [key for key, s in self._sessions.items() if s.created_at <= deadline]
        for session_id in expired:
            del self._sessions[session_id]
