"""HS256 JSON Web Tokens, written out with the standard library (RFC 7519 / RFC 7515).

BaluPi reads and mints exactly one kind of JWT: HMAC-SHA256 over ``header.payload``, the kind
BaluHost's python-jose (and PyJWT before it) makes with its ``SECRET_KEY``
(docs/compat/nas-api.md §2.2). A general JWT library brought asymmetric algorithms and, through
``cryptography``, X.509 into every start of a 1 GB Pi, to serve none of them (issue 14); this
module is the part BaluPi uses, and nothing more.

It is strict where a token crosses a trust boundary:

* the header's ``alg`` must be exactly ``"HS256"``: ``none``, ``HS512`` or anything else is
  refused before any key is used, so a token cannot choose how it is checked;
* ``crit`` and ``b64`` (RFC 7797) are refused: no extension is understood here;
* every segment must be canonical base64url without padding, and decode to a UTF-8 JSON object
  without duplicate names or ``NaN``; anything else is ``InvalidToken``, never a crash;
* the signature is compared with ``hmac.compare_digest``, in constant time.

Registered claims are judged as BaluPi's earlier PyJWT settings judged them: ``exp`` must be a
number and later than ``now - leeway``; ``nbf``, if present, a number not later than
``now + leeway``; ``sub`` and ``jti``, if present, strings; an ``aud`` is refused (nothing here
names an audience); ``iat`` is not judged (BaluHost ignores it too). Time is passed in, so the
callers judge it by their injected clock rather than the wall clock.

Encoding is byte for byte what python-jose and PyJWT produce for the same claims: the header
``{"alg":"HS256","typ":"JWT"}``, the claims in their given order, compact JSON separators and
ASCII escapes. A token the Pi mints is therefore the very token the NAS would mint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from balupi.errors import AuthError

ALGORITHM = "HS256"
# Sorted keys and compact separators: what PyJWT and python-jose both write.
_HEADER = json.dumps({"alg": ALGORITHM, "typ": "JWT"}, separators=(",", ":")).encode()
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_REFUSED_HEADERS = ("crit", "b64")


class InvalidToken(AuthError):
    """The token is not an intact, unexpired token of the expected type."""

    code = "invalid_token"  # no status: the auth service answers it as NotAuthenticated


def encode(claims: Mapping[str, Any], key: str | bytes) -> str:
    """A signed HS256 token carrying ``claims`` in their order."""
    payload = json.dumps(dict(claims), separators=(",", ":"), allow_nan=False).encode()
    signing_input = _b64encode(_HEADER) + b"." + _b64encode(payload)
    return (signing_input + b"." + _b64encode(_sign(signing_input, key))).decode("ascii")


def decode(
    token: str,
    key: str | bytes,
    *,
    now: float,
    leeway: float = 0.0,
    require: Iterable[str] = ("exp",),
) -> dict[str, Any]:
    """The claims of an intact HS256 token that is valid at ``now`` (a Unix time).

    ``require`` names claims that must be present and not null (``exp`` always is judged when
    present, and is required by default: a token that never expires is not one BaluHost makes).
    Raises ``InvalidToken`` for anything else, with a short reason.
    """
    header, claims, signing_input, signature = _split(token)
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("the algorithm is not HS256")
    if any(name in header for name in _REFUSED_HEADERS):
        raise InvalidToken("unsupported header extension")
    if not hmac.compare_digest(_sign(signing_input, key), signature):
        raise InvalidToken("signature verification failed")
    for name in require:
        if claims.get(name) is None:
            raise InvalidToken(f"the token has no {name!r} claim")
    _check_registered_claims(claims, now, leeway)
    return claims


def decode_unverified(token: str) -> dict[str, Any]:
    """The claims of a well-formed token **without** checking its signature, algorithm or times.

    For decisions that can only reject or route (which kind of token is this, has it expired
    whoever signed it), never for accepting one. Raises ``InvalidToken`` if it is no JWT.
    """
    return _split(token)[1]


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, claims, signing input and signature of a structurally sound token."""
    if not isinstance(token, str) or not token.isascii():
        raise InvalidToken("not a JWT")
    segments = token.split(".")
    if len(segments) != 3:
        raise InvalidToken("not a JWT: expected three segments")
    header_segment, payload_segment, signature_segment = segments
    header = _json_object(_b64decode(header_segment), "header")
    claims = _json_object(_b64decode(payload_segment), "payload")
    signature = _b64decode(signature_segment)
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    return header, claims, signing_input, signature


def _check_registered_claims(claims: dict[str, Any], now: float, leeway: float) -> None:
    if "exp" in claims and _number(claims["exp"], "exp") <= now - leeway:
        raise InvalidToken("expired")
    if "nbf" in claims and _number(claims["nbf"], "nbf") > now + leeway:
        raise InvalidToken("not yet valid")
    for name in ("sub", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise InvalidToken(f"the {name!r} claim is not a string")
    if claims.get("aud"):
        raise InvalidToken("the token names an audience")


def _number(value: object, name: str) -> float:
    """A time claim as seconds; a number no clock can reach (``1e400`` parses as infinity, a
    300-digit integer overflows a float) is refused, not left to never expire or crash."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"the {name!r} claim is not a number")
    try:
        seconds = float(value)
    except OverflowError as exc:
        raise InvalidToken(f"the {name!r} claim is out of range") from exc
    if not math.isfinite(seconds):
        raise InvalidToken(f"the {name!r} claim is out of range")
    return seconds


def _sign(signing_input: bytes, key: str | bytes) -> bytes:
    secret = key.encode() if isinstance(key, str) else key
    return hmac.new(secret, signing_input, hashlib.sha256).digest()


def _b64encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64decode(segment: str) -> bytes:
    """Canonical unpadded base64url only: one token, one spelling (no padding, no stray
    characters, no unused bits set), so a signature cannot be varied without being refused."""
    if _BASE64URL.fullmatch(segment) is None or len(segment) % 4 == 1:
        raise InvalidToken("a segment is not base64url")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("a segment is not base64url") from exc
    if _b64encode(data).decode("ascii") != segment:
        raise InvalidToken("a segment is not canonical base64url")
    return data


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_unique_names,
            parse_constant=_refuse_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidToken(f"the {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken(f"the {what} is not a JSON object")
    return value


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate name")
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
