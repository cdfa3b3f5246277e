"""Bearer tokens as BaluHost defines them, and the Pi's own, read and minted against the clock.

NAS tokens are HS256 JWTs signed with the NAS's ``SECRET_KEY`` (docs/compat/nas-api.md §2.2). An
access token carries exactly ``sub`` (the user id as a string), ``username``, ``role``, ``type``,
``exp`` and ``iat``; the Pi mints the same claims in the same order, so a token it issues while
the NAS sleeps is one the NAS accepts once awake. (The earlier BaluPi read ``sub`` as a user
name, where the NAS puts the numeric id, and so never accepted a real NAS token offline.)

Without the NAS's key the Pi can still mint a *Pi-only* token: signed with a key derived from
BaluPi's own ``SECRET_KEY``, with ``iss: balupi`` and ``type: pi_access`` so that nothing,
the NAS included, can mistake it for a NAS access token.

``exp`` is judged by the injected clock rather than the wall clock, so tests move time instead
of sleeping. The HS256 reading and writing itself is ``jwt.py``'s. ``peek`` reads claims
*without* checking the signature: it serves only decisions that can reject (an expired or
non-access token is invalid whoever signed it) and routing (which kind of token is this), never
acceptance.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from balupi.clock import Clock
from balupi.services.auth import jwt
from balupi.services.auth.jwt import ALGORITHM, InvalidToken

if TYPE_CHECKING:
    from balupi.config import Settings

__all__ = [
    "ALGORITHM",
    "API_KEY_PREFIX",
    "Claims",
    "CredentialKind",
    "InvalidToken",
    "TokenSigner",
    "classify",
    "nas_secret_of",
    "peek",
    "token_digest",
]

API_KEY_PREFIX = "balu_"
ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)  # BaluHost's ACCESS_TOKEN_EXPIRE_MINUTES default
PI_ISSUER = "balupi"
PI_ACCESS_TYPE = "pi_access"
_PI_KEY_CONTEXT = b"balupi auth token v1"

TokenType = Literal["access", "refresh"]


class CredentialKind(enum.StrEnum):
    """What a bearer credential is, which decides who can judge it."""

    NAS_TOKEN = "nas_token"  # a JWT in the NAS's format (from the NAS, or the Pi with its key)
    PI_TOKEN = "pi_token"  # the Pi's own token: accepted by the Pi only
    API_KEY = "api_key"  # ``balu_…``: only the NAS knows its keys


@dataclass(frozen=True)
class Claims:
    """A JWT's claims with typed access to the ones BaluHost uses."""

    raw: dict[str, Any]

    @property
    def sub(self) -> str | None:
        value = self.raw.get("sub")
        return value if isinstance(value, str) and value else None

    @property
    def type(self) -> object:
        return self.raw.get("type")

    @property
    def username(self) -> str | None:
        value = self.raw.get("username")
        return value if isinstance(value, str) and value else None

    @property
    def role(self) -> str | None:
        value = self.raw.get("role")
        return value if isinstance(value, str) and value else None

    @property
    def jti(self) -> str | None:
        value = self.raw.get("jti")
        return value if isinstance(value, str) and value else None

    @property
    def issuer(self) -> object:
        return self.raw.get("iss")

    def _moment(self, name: str) -> datetime | None:
        value = self.raw.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None

    @property
    def expires_at(self) -> datetime | None:
        return self._moment("exp")

    @property
    def issued_at(self) -> datetime | None:
        return self._moment("iat")

    def expired(self, now: datetime) -> bool:
        """True when ``exp`` is missing, unreadable or not after ``now``."""
        expires = self.expires_at
        return expires is None or expires <= now


def token_digest(token: str) -> str:
    """The SHA-256 hex under which the Pi remembers a token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


def peek(token: str) -> Claims | None:
    """The claims of a JWT **without** checking its signature; None if it is no JWT at all."""
    try:
        return Claims(jwt.decode_unverified(token))
    except InvalidToken:
        return None


def classify(token: str) -> CredentialKind | None:
    """Which kind of credential ``token`` looks like; None for something that is none of them."""
    if token.startswith(API_KEY_PREFIX):
        return CredentialKind.API_KEY
    claims = peek(token)
    if claims is None:
        return None
    if claims.issuer == PI_ISSUER:
        return CredentialKind.PI_TOKEN
    return CredentialKind.NAS_TOKEN


def nas_secret_of(settings: Settings) -> str | None:
    """The NAS's signing key from the settings; an empty one counts as none."""
    secret = settings.nas_jwt_secret
    return secret.get_secret_value() if secret else None


def _derive_pi_key(signing_key: str) -> bytes:
    # A key of its own for tokens: 32 bytes whatever SECRET_KEY's length, and no token can be
    # confused with another signature made with SECRET_KEY.
    return hmac.new(signing_key.encode(), _PI_KEY_CONTEXT, hashlib.sha256).digest()


class TokenSigner:
    """Verifies and mints NAS-format tokens (with the NAS's key, if known) and Pi-only tokens."""

    def __init__(self, clock: Clock, *, nas_secret: str | None, signing_key: str) -> None:
        self._clock = clock
        self._nas_secret = nas_secret
        self._pi_key = _derive_pi_key(signing_key)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> TokenSigner:
        """The signer every part of BaluPi uses: the NAS's key if configured (an empty one counts
        as none, as everywhere else), and BaluPi's own key for Pi-only tokens."""
        return cls(clock, nas_secret=nas_secret_of(settings), signing_key=settings.signing_key)

    @property
    def knows_nas_secret(self) -> bool:
        return self._nas_secret is not None

    # -- reading ------------------------------------------------------------------------------
    def verify_nas(self, token: str, *, expected: TokenType) -> Claims:
        """The claims of a NAS token whose signature, ``type`` and ``exp`` hold."""
        if self._nas_secret is None:
            raise InvalidToken("the NAS's signing key is not configured")
        return self._verify(token, self._nas_secret, expected_type=expected)

    def verify_pi(self, token: str) -> Claims:
        """The claims of a Pi-only access token whose signature, issuer and ``exp`` hold."""
        claims = self._verify(token, self._pi_key, expected_type=PI_ACCESS_TYPE)
        if claims.issuer != PI_ISSUER:
            raise InvalidToken("not issued by BaluPi")
        return claims

    def _verify(self, token: str, key: str | bytes, *, expected_type: str) -> Claims:
        now = self._clock.now()
        claims = Claims(jwt.decode(token, key, now=now.timestamp(), require=("exp", "sub")))
        if claims.type != expected_type:
            raise InvalidToken(f"not a {expected_type} token")
        if claims.sub is None:
            raise InvalidToken("no subject")
        if claims.expired(now):  # jwt.decode judged exp already; this keeps Claims' rule
            raise InvalidToken("expired")
        return claims

    # -- minting ------------------------------------------------------------------------------
    def mint_access(self, *, user_id: str, username: str, role: str) -> str:
        """An access token the NAS will accept if its key is known, else a Pi-only one."""
        if self._nas_secret is not None:
            return self.mint_nas_access(user_id=user_id, username=username, role=role)
        return self.mint_pi_access(user_id=user_id, username=username, role=role)

    def mint_nas_access(self, *, user_id: str, username: str, role: str) -> str:
        """The NAS's access token for this user at this second (docs/compat/nas-api.md §2.2)."""
        if self._nas_secret is None:
            raise InvalidToken("the NAS's signing key is not configured")
        issued = int(self._clock.now().timestamp())
        claims = {
            "sub": user_id,
            "username": username,
            "role": role,
            "type": "access",
            "exp": issued + int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "iat": issued,
        }
        return jwt.encode(claims, self._nas_secret)

    def mint_pi_access(self, *, user_id: str, username: str, role: str) -> str:
        """A token only this Pi accepts: the NAS's claims plus ``iss``, with its own ``type``."""
        issued = int(self._clock.now().timestamp())
        claims = {
            "sub": user_id,
            "username": username,
            "role": role,
            "type": PI_ACCESS_TYPE,
            "iss": PI_ISSUER,
            "exp": issued + int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "iat": issued,
        }
        return jwt.encode(claims, self._pi_key)
