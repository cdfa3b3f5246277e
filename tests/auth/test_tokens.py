"""Tokens as the Pi mints and reads them, verifiers and the offline login limiter (no servers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from balupi.clock import ManualClock
from balupi.services.auth import jwt
from balupi.services.auth.ratelimit import FixedWindowLimiter
from balupi.services.auth.tokens import (
    CredentialKind,
    InvalidToken,
    TokenSigner,
    classify,
    peek,
)
from balupi.services.auth.verifier import (
    DEFAULT_PARAMS,
    PasswordVerifier,
    ScryptParams,
    check_verifier,
    make_verifier,
)
from balupi.sim.nas.state import EmulatedNas
from balupi.sim.nas.tokens import mint_access_token
from tests.auth.home import NAS_SECRET, craft


def _signer(clock: ManualClock, *, secret: bool = True) -> TokenSigner:
    return TokenSigner(
        clock, nas_secret=NAS_SECRET if secret else None, signing_key="pi-secret-key"
    )


def test_the_pi_mints_exactly_the_nas_s_access_token(tmp_path: Path) -> None:
    clock = ManualClock()
    nas = EmulatedNas(tmp_path, NAS_SECRET, clock=lambda: clock.now().timestamp())
    user = nas.add_user("maria", "pw")

    from_pi = _signer(clock).mint_access(user_id=str(user.id), username="maria", role="user")

    assert from_pi == mint_access_token(nas, user)  # byte for byte: claims, order, header


def test_a_pi_only_token_is_told_apart_and_never_passes_as_a_nas_token() -> None:
    clock = ManualClock()
    signer = _signer(clock, secret=False)
    token = signer.mint_access(user_id="2", username="maria", role="user")
    # Even a Pi whose own key equals the NAS's must not take its token for the NAS's.
    same_key = TokenSigner(clock, nas_secret="pi-secret-key", signing_key="pi-secret-key")

    assert classify(token) is CredentialKind.PI_TOKEN
    assert signer.verify_pi(token).sub == "2"
    with pytest.raises(InvalidToken):
        same_key.verify_nas(token, expected="access")
    assert classify("balu_" + "k" * 40) is CredentialKind.API_KEY
    assert classify("no.token.here") is None


def test_expiry_follows_the_injected_clock() -> None:
    clock = ManualClock()
    signer = _signer(clock)
    token = signer.mint_nas_access(user_id="2", username="maria", role="user")

    clock.advance(899)
    assert signer.verify_nas(token, expected="access").username == "maria"
    clock.advance(1)
    with pytest.raises(InvalidToken, match="expired"):
        signer.verify_nas(token, expected="access")


def test_a_token_of_another_type_or_key_is_invalid() -> None:
    clock = ManualClock()
    signer = _signer(clock)
    now = int(clock.now().timestamp())
    refresh = jwt.encode(
        {"sub": "2", "jti": "j", "type": "refresh", "exp": now + 60, "iat": now}, NAS_SECRET
    )
    other_key = jwt.encode(
        {"sub": "2", "type": "access", "exp": now + 60, "iat": now},
        "some-other-key-of-enough-length-0123456789",
    )
    unsigned = craft({"alg": "none"}, {"sub": "2", "type": "access", "exp": now + 60})

    assert signer.verify_nas(refresh, expected="refresh").jti == "j"
    for token in (refresh, other_key, unsigned):
        with pytest.raises(InvalidToken):
            signer.verify_nas(token, expected="access")
    claims = peek(other_key)
    assert claims is not None
    assert claims.sub == "2"  # peeking reads claims, but decides nothing


def test_a_verifier_checks_the_password_and_never_contains_it() -> None:
    verifier = make_verifier("correct horse", DEFAULT_PARAMS)

    assert verifier.startswith(f"scrypt${DEFAULT_PARAMS.n}$8$1$")
    assert "correct horse" not in verifier
    assert check_verifier("correct horse", verifier)
    assert not check_verifier("correct horse ", verifier)
    assert make_verifier("correct horse", DEFAULT_PARAMS) != verifier  # salted
    for broken in ("", "scrypt$x", "bcrypt$1$2$3$AA==$AA==", verifier.replace("$8$", "$0$")):
        assert not check_verifier("correct horse", broken)


async def test_verifiers_are_made_off_the_event_loop_and_keep_their_parameters() -> None:
    cheap = PasswordVerifier(ScryptParams(n=2**10))
    verifier = await cheap.make("pw")

    # A verifier made with other parameters still checks: they travel inside the string.
    assert await PasswordVerifier().check("pw", verifier)
    assert not await PasswordVerifier().check("pw!", verifier)


def test_the_offline_login_limiter_counts_per_client_in_fixed_windows() -> None:
    clock = ManualClock()
    limiter = FixedWindowLimiter(5, 60.0, clock)

    assert [limiter.hit("10.0.0.2") for _ in range(6)] == [True] * 5 + [False]
    assert limiter.hit("10.0.0.3")  # another client has its own window
    clock.advance(60)
    assert limiter.hit("10.0.0.2")


def test_the_default_scrypt_cost_is_not_lowered_by_accident() -> None:
    # 32 MiB per hash: the floor for a verifier that may sit on a stolen SD card.
    assert (DEFAULT_PARAMS.n, DEFAULT_PARAMS.r, DEFAULT_PARAMS.p) == (2**15, 8, 1)
