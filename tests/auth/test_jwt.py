"""BaluPi's own HS256 JWTs (``balupi.services.auth.jwt``): strict reading, exact writing.

The module replaced PyJWT, so besides its own rules these tests hold it to what the NAS writes:
tokens from the NAS emulator verify, and tokens minted here are the bytes PyJWT (what BaluHost's
python-jose agrees with) would write, where PyJWT is still installed.
"""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from balupi.services.auth import jwt
from balupi.services.auth.jwt import InvalidToken
from balupi.sim.nas.state import EmulatedNas
from balupi.sim.nas.tokens import TokenError, mint_access_token, read_token
from tests.auth.home import NAS_SECRET, craft

NOW = 1_800_000_000
KEY = "a-key-of-some-length-0123456789-abcdef"
CLAIMS: dict[str, Any] = {
    "sub": "2",
    "username": "maria",
    "role": "user",
    "type": "access",
    "exp": NOW + 900,
    "iat": NOW,
}
HEADER = {"alg": "HS256", "typ": "JWT"}


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_round_trips_with_its_claims_in_order() -> None:
    token = jwt.encode(CLAIMS, KEY)

    assert jwt.decode(token, KEY, now=NOW) == CLAIMS
    assert list(jwt.decode(token, KEY, now=NOW)) == list(CLAIMS)
    assert jwt.decode_unverified(token) == CLAIMS
    header = json.loads(base64.urlsafe_b64decode(_segments(token)[0] + "=="))
    assert header == HEADER
    assert "=" not in token
    assert token == craft(HEADER, CLAIMS, key=KEY)  # compact JSON, unpadded base64url
    assert jwt.decode(jwt.encode(CLAIMS, KEY.encode()), KEY, now=NOW) == CLAIMS  # str = utf-8


def test_a_tampered_payload_or_signature_or_key_is_refused() -> None:
    token = jwt.encode(CLAIMS, KEY)
    head, body, signature = _segments(token)
    admin = _b64(json.dumps({**CLAIMS, "role": "admin"}, separators=(",", ":")).encode())
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]

    for forged in (f"{head}.{admin}.{signature}", f"{head}.{body}.{flipped}", f"{head}.{body}."):
        with pytest.raises(InvalidToken, match="signature"):
            jwt.decode(forged, KEY, now=NOW)
    with pytest.raises(InvalidToken, match="signature"):
        jwt.decode(token, KEY + "x", now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "typ": "JWT"},
        {"alg": "HS512", "typ": "JWT"},
        {"alg": "hs256", "typ": "JWT"},
        {"alg": "RS256"},
        {"typ": "JWT"},
        {"alg": ["HS256"]},
    ],
)
def test_only_hs256_is_accepted_whatever_the_signature(header: dict[str, Any]) -> None:
    # Even correctly "signed" with the key: a token does not choose how it is checked.
    for token in (craft(header, CLAIMS), craft(header, CLAIMS, key=KEY)):
        with pytest.raises(InvalidToken, match="algorithm"):
            jwt.decode(token, KEY, now=NOW)


def test_header_extensions_are_refused() -> None:
    for extra in ({"crit": ["exp"]}, {"b64": False, "crit": ["b64"]}):
        with pytest.raises(InvalidToken, match="extension"):
            jwt.decode(craft({**HEADER, **extra}, CLAIMS, key=KEY), KEY, now=NOW)


def test_expiry_and_not_before_follow_the_given_time_and_leeway() -> None:
    token = jwt.encode(CLAIMS, KEY)
    early = jwt.encode({**CLAIMS, "nbf": NOW + 10}, KEY)

    assert jwt.decode(token, KEY, now=NOW + 899)["sub"] == "2"
    with pytest.raises(InvalidToken, match="expired"):
        jwt.decode(token, KEY, now=NOW + 900)  # exp is the first moment it is invalid
    assert jwt.decode(token, KEY, now=NOW + 905, leeway=10)["sub"] == "2"
    with pytest.raises(InvalidToken, match="not yet valid"):
        jwt.decode(early, KEY, now=NOW)
    assert jwt.decode(early, KEY, now=NOW + 10)["nbf"] == NOW + 10
    assert jwt.decode(early, KEY, now=NOW, leeway=10)["sub"] == "2"
    # iat is not judged: BaluHost does not judge it either.
    assert jwt.decode(jwt.encode({**CLAIMS, "iat": NOW + 999}, KEY), KEY, now=NOW)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"sub": "2"}, "'exp' claim"),
        ({**CLAIMS, "exp": None}, "'exp' claim"),
        ({**CLAIMS, "exp": "soon"}, "not a number"),
        ({**CLAIMS, "exp": True}, "not a number"),
        ({**CLAIMS, "nbf": "later"}, "not a number"),
        ({**CLAIMS, "sub": 2}, "not a string"),
        ({**CLAIMS, "jti": 7}, "not a string"),
        ({**CLAIMS, "aud": "someone"}, "audience"),
    ],
)
def test_registered_claims_of_the_wrong_kind_are_refused(
    claims: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidToken, match=reason):
        jwt.decode(craft(HEADER, claims, key=KEY), KEY, now=NOW)


def test_required_claims_are_the_caller_s() -> None:
    token = jwt.encode({k: v for k, v in CLAIMS.items() if k != "sub"}, KEY)

    assert jwt.decode(token, KEY, now=NOW)["username"] == "maria"
    with pytest.raises(InvalidToken, match="'sub' claim"):
        jwt.decode(token, KEY, now=NOW, require=("exp", "sub"))


def _malformed() -> list[str]:
    head, body, signature = _segments(jwt.encode(CLAIMS, KEY))
    not_json = _b64(b"{not json")
    odd_payloads = [b"[1, 2]", b"\xff\xfe", b'{"exp": NaN}', b'{"sub": "2", "sub": "1"}']
    return [
        "",
        "abc",
        f"{head}.{body}",  # two segments
        f"{head}.{body}.{signature}.{signature}",  # four
        f"{head}=.{body}.{signature}",  # padding
        f"{head}.{body}!.{signature}",  # outside the alphabet
        f"{head}.{body}+.{signature}",  # plain base64, not base64url
        f"{head}.{body}{'A' * ((1 - len(body)) % 4)}.{signature}",  # length 4n + 1: no base64
        f"{not_json}.{body}.{signature}",
        f"{head}.{not_json}.{signature}",
        f"{_b64(json.dumps('HS256').encode())}.{body}.{signature}",  # JSON, but no object
        *(f"{head}.{_b64(payload)}.{signature}" for payload in odd_payloads),
        f"{head}.{body}.{signature}\u00e9",  # not ASCII
    ]


@pytest.mark.parametrize("token", _malformed())
def test_malformed_tokens_are_invalid_tokens_never_crashes(token: str) -> None:
    with pytest.raises(InvalidToken):
        jwt.decode(token, KEY, now=NOW)
    with pytest.raises(InvalidToken):
        jwt.decode_unverified(token)


def test_non_canonical_base64_is_refused() -> None:
    token = jwt.encode(CLAIMS, KEY)
    head, body, signature = _segments(token)
    # The last character of a 43-character signature carries 2 unused bits: set one.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    twin = signature[:-1] + alphabet[last | 1 if last % 4 == 0 else last & ~1]
    assert base64.urlsafe_b64decode(twin + "=") == base64.urlsafe_b64decode(signature + "=")

    with pytest.raises(InvalidToken, match="canonical"):
        jwt.decode(f"{head}.{body}.{twin}", KEY, now=NOW)


def test_the_nas_emulator_and_the_pi_read_each_other_s_tokens(tmp_path: Path) -> None:
    nas = EmulatedNas(tmp_path, NAS_SECRET, clock=lambda: float(NOW))
    user = nas.add_user("maria", "pw")
    from_nas = mint_access_token(nas, user)
    from_pi = jwt.encode({**CLAIMS, "sub": str(user.id)}, NAS_SECRET)

    assert jwt.decode(from_nas, NAS_SECRET, now=NOW)["username"] == "maria"
    assert read_token(nas, from_pi, expected="access")["sub"] == str(user.id)
    with pytest.raises(TokenError):
        read_token(nas, craft({"alg": "none"}, {**CLAIMS, "sub": str(user.id)}), expected="access")


def test_tokens_are_the_bytes_pyjwt_writes_and_pyjwt_reads_ours() -> None:
    pyjwt = pytest.importorskip("jwt", reason="PyJWT is not installed: nothing to compare with")
    claims = {**CLAIMS, "username": "märta ✓", "jti": "0b8f"}
    for key in (KEY, "short", "k" * 64):
        ours = jwt.encode(claims, key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyJWT's warning about short keys
            theirs = pyjwt.encode(claims, key, algorithm="HS256")
            read_by_pyjwt = pyjwt.decode(
                ours, key, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
            )
        assert ours == theirs
        assert read_by_pyjwt == claims
        assert jwt.decode(theirs, key, now=NOW) == claims


@pytest.mark.parametrize("exp", [b"1e400", b"9" * 400])
def test_a_time_no_clock_can_reach_is_refused_not_eternal(exp: bytes) -> None:
    """``1e400`` parses as infinity (it would never expire), 400 nines overflow a float (a 500)."""
    import hashlib
    import hmac

    signing_input = (
        _b64(json.dumps(HEADER).encode()) + "." + _b64(b'{"sub":"maria","exp":' + exp + b"}")
    )
    signature = hmac.new(KEY.encode(), signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken, match="out of range"):
        jwt.decode(f"{signing_input}.{_b64(signature)}", KEY, now=NOW)
