"""``POST /api/auth/refresh`` and ``/logout``: BaluApp deletes its tokens on any HTTP error from
refresh (docs/compat/clients.md §0.2), so the Pi answers 200, 401 for a really invalid token, or
nothing.
"""

from __future__ import annotations

import httpx

from tests.auth.home import DROPPED, NAS_SECRET, Home, HomeFactory, forge


def _token(response: httpx.Response | str) -> str:
    assert isinstance(response, httpx.Response), response
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert isinstance(token, str)
    return token


async def _accepted_by_nas(home: Home, token: str) -> bool:
    async with home.nas_client() as nas:
        response = await nas.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code == 200


async def test_a_refresh_while_the_nas_sleeps_yields_a_token_it_accepts_after_waking(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True) as home:
        refresh_token = home.nas_refresh_token("maria")
        awake = await home.refresh(refresh_token)  # forwarded: the Pi meets maria here
        await home.nas_sleeps()
        home.clock.advance(3 * 3600)  # the night goes on; access tokens expired long ago
        asleep = await home.refresh(refresh_token)
        token = _token(asleep)
        me_asleep = await home.me(token)
        await home.nas_wakes()
        accepted = await _accepted_by_nas(home, token)

    assert _token(awake)
    assert isinstance(asleep, httpx.Response)
    assert set(asleep.json()) == {"access_token", "token_type", "user"}
    assert asleep.json()["token_type"] == "bearer"
    assert asleep.json()["user"]["username"] == "maria"
    assert me_asleep == 200
    assert accepted


async def test_a_revocation_the_nas_announced_holds_while_it_sleeps(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True) as home:
        revoked = home.nas_refresh_token("maria")
        logged_out = home.nas_refresh_token("bob")
        _token(await home.refresh(logged_out))  # the Pi meets bob
        home.nas_state.revoke_refresh_tokens(home.nas_user_id("maria"))  # e.g. on the web UI
        awake = await home.refresh(revoked)
        home.clock.advance(1)  # the logout comes after bob's refresh token was issued
        bob = {"Authorization": f"Bearer {home.nas_access_token('bob')}"}
        logout = await home.pi.post("/api/auth/logout", headers=bob)
        await home.nas_sleeps()
        asleep = await home.refresh(revoked)
        after_logout = await home.refresh(logged_out)

    assert isinstance(awake, httpx.Response)
    assert awake.status_code == 401
    assert awake.json() == {"detail": "Refresh token has been revoked"}
    assert logout.status_code == 200
    assert logout.json() == {"message": "Logged out"}
    for response in (asleep, after_logout):
        assert isinstance(response, httpx.Response)
        assert response.status_code == 401
        assert response.json() == {"detail": "Refresh token has been revoked"}


async def test_offline_refresh_decides_alone_drops_the_undecidable_and_refuses_the_invalid(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True) as home:
        known = home.nas_refresh_token("maria")
        _token(await home.refresh(known))  # the Pi meets maria
        never_seen = home.nas_refresh_token("admin")  # valid, but the Pi knows no name or role
        access_token = home.nas_access_token("maria")
        expired_claims = {"sub": "2", "jti": "x", "type": "refresh", "exp": 1, "iat": 0}
        await home.pi_believes_nas_sleeps()  # the NAS stays up, counting what reaches it
        before = home.nas_requests()
        token = _token(await home.refresh(known))
        usable = await home.pi.get("/api/nas/status", headers={"Authorization": f"Bearer {token}"})
        unknown_user = await home.refresh(never_seen)
        not_a_refresh_token = await home.refresh(access_token)
        wrongly_signed = await home.refresh(known + "x")
        expired = await home.refresh(forge(expired_claims, NAS_SECRET))
        malformed = await home.pi.post("/api/auth/refresh", content=b"{not json")
        sent = home.nas_requests() - before

    assert usable.status_code == 200
    assert unknown_user == DROPPED
    for response in (not_a_refresh_token, wrongly_signed, expired, malformed):
        assert isinstance(response, httpx.Response)
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid refresh token"}
    assert sent == 0


async def test_without_the_nas_key_an_offline_refresh_closes_the_connection(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=False) as home:
        refresh_token = home.nas_refresh_token("maria")
        awake = await home.refresh(refresh_token)
        await home.nas_sleeps()
        asleep = await home.refresh(refresh_token)
        garbage = await home.refresh("garbage")

    assert _token(awake)
    assert asleep == DROPPED  # BaluApp keeps its tokens and retries later
    assert isinstance(garbage, httpx.Response)
    assert garbage.status_code == 401


async def test_logout_while_the_nas_sleeps_is_a_503_and_still_revokes_on_the_pi(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True) as home:
        refresh_token = home.nas_refresh_token("maria")
        _token(await home.refresh(refresh_token))
        await home.nas_sleeps()
        home.clock.advance(1)  # the logout comes after the refresh token was issued
        auth = {"Authorization": f"Bearer {home.nas_access_token('maria')}"}
        logout = await home.pi.post("/api/auth/logout", headers=auth)
        refresh = await home.refresh(refresh_token)

    assert logout.status_code == 503
    assert int(logout.headers["Retry-After"]) > 0
    assert isinstance(refresh, httpx.Response)
    assert refresh.status_code == 401
