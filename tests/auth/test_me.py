"""``GET /api/auth/me`` answers 200 or 401 and nothing else; where the Pi cannot tell, it answers
nothing at all (BaluDesk wipes its credentials on any other status: docs/compat/clients.md §6.2).

The matrix runs each kind of token against BaluPi with and without the NAS's signing key, with
the NAS awake and asleep, over real HTTP on loopback against the NAS emulator.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from balupi.app import create_app
from balupi.server import running_server
from tests.auth.home import DROPPED, NAS_SECRET, Home, HomeFactory, access_claims, forge

Outcome = int | str


def _tampered(home: Home) -> str:
    """maria's genuine token with its payload swapped for one that says admin."""
    header, _, signature = home.nas_access_token("maria").split(".")
    admin = json.dumps(access_claims(home, "admin"), separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(admin).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


@dataclass(frozen=True)
class Case:
    name: str
    token: Callable[[Home], str | None]
    seen_while_awake: bool = False  # shown to the Pi (so to the NAS) before the NAS sleeps
    rejected_by_nas: bool = False  # the NAS said 401 to it then

    def expected(self, *, secret: bool, awake: bool) -> Outcome:
        if self.name in ("missing", "not-bearer", "garbage", "expired") or self.rejected_by_nas:
            return 401
        if self.name == "valid":
            # Unseen, without the key, while the NAS sleeps: nobody can tell.
            return 200 if secret or awake or self.seen_while_awake else DROPPED
        # A bad signature: the key tells at once, else the NAS while it is awake.
        return 401 if secret or awake else DROPPED


CASES = [
    Case("missing", lambda home: None),
    Case("not-bearer", lambda home: ""),
    Case("garbage", lambda home: "this-is-no-token"),
    Case("valid", lambda home: home.nas_access_token("maria"), seen_while_awake=True),
    Case("valid", lambda home: home.nas_access_token("admin")),
    Case("expired", lambda home: forge(access_claims(home, "maria", age=901), NAS_SECRET)),
    Case("forged", _tampered),
    Case("wrongly-signed", lambda home: forge(access_claims(home, "maria"))),
    Case(
        "nas-rejected",
        lambda home: home.nas_access_token("bob"),
        seen_while_awake=True,
        rejected_by_nas=True,
    ),
]


@pytest.mark.parametrize("awake", [True, False], ids=["nas-awake", "nas-asleep"])
@pytest.mark.parametrize("secret", [True, False], ids=["with-secret", "without-secret"])
async def test_me_answers_200_or_401_or_nothing(
    make_home: HomeFactory, secret: bool, awake: bool
) -> None:
    async with make_home(secret=secret) as home:
        home.deactivate_on_nas("bob")  # the NAS now refuses bob's tokens
        tokens = [case.token(home) for case in CASES]
        for case, token in zip(CASES, tokens, strict=True):
            if case.seen_while_awake:
                assert await home.me(token) == (401 if case.rejected_by_nas else 200)
        if not awake:
            await home.nas_sleeps()

        outcomes = {
            f"{case.name}{'/seen' if case.seen_while_awake else ''}": await home.me(token)
            for case, token in zip(CASES, tokens, strict=True)
        }

    expected = {
        f"{case.name}{'/seen' if case.seen_while_awake else ''}": case.expected(
            secret=secret, awake=awake
        )
        for case in CASES
    }
    assert outcomes == expected
    assert set(outcomes.values()) <= {200, 401, DROPPED}


@pytest.mark.parametrize("secret", [True, False], ids=["with-secret", "without-secret"])
async def test_me_keeps_the_nas_s_answer_while_it_sleeps_until_the_token_expires(
    make_home: HomeFactory, secret: bool
) -> None:
    async with make_home(secret=secret) as home:
        auth = {"Authorization": f"Bearer {home.nas_access_token('maria')}"}
        awake = await home.pi.get("/api/auth/me", headers=auth)
        await home.nas_sleeps()
        asleep = await home.pi.get("/api/auth/me", headers=auth)
        home.clock.advance(14 * 60)
        later = await home.pi.get("/api/auth/me", headers=auth)
        home.clock.advance(2 * 60)  # past the token's 15 minutes
        expired = await home.pi.get("/api/auth/me", headers=auth)

    assert awake.status_code == asleep.status_code == later.status_code == 200
    assert awake.json()["username"] == "maria"
    assert awake.json()["id"] == home.nas_user_id("maria")
    assert asleep.json() == awake.json()  # the NAS's UserPublic, kept for while it sleeps
    assert expired.status_code == 401
    assert expired.json() == {"detail": "Could not validate credentials"}
    assert expired.headers["WWW-Authenticate"] == "Bearer"


async def test_a_token_the_nas_rejected_stays_rejected_across_a_restart(
    make_home: HomeFactory,
) -> None:
    """Never fall back to local decoding after the NAS said no (as the earlier BaluPi did):
    with the NAS's key, bob's token has a perfect signature, yet the NAS refused it."""
    async with make_home(secret=True) as home:
        token = home.nas_access_token("bob")
        home.deactivate_on_nas("bob")
        first = await home.pi.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        await home.nas_sleeps()
        asleep = await home.me(token)

        # A second BaluPi on the same database: what the first learned survives.
        app = create_app(home.services.settings, clock=home.clock)
        async with (
            running_server(app) as restarted,
            httpx.AsyncClient(base_url=restarted.url) as client,
        ):
            after_restart = await client.get(
                "/api/nas/status", headers={"Authorization": f"Bearer {token}"}
            )

    assert first.status_code == 401
    assert first.json() == {"detail": "User account is inactive"}
    assert asleep == 401
    assert after_restart.status_code == 401
    assert after_restart.json() == {
        "detail": "User account is inactive",
        "code": "not_authenticated",
    }
