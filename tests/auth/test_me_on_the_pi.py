"""``/api/auth/me`` from verdicts the Pi holds (issue 12, item 3): clients poll it every 10 s.

The NAS's word on a user (a login, a refresh or an ``/auth/me`` answer) is trusted for
``AUTH_TRUST_SECONDS`` (10 minutes, below its 15-minute tokens); after that the NAS is asked
again, while it is online, at most one optional request per ``NAS_QUIET_SECONDS`` for all users.
The link's loop is stopped in these tests so its health checks do not blur the NAS's counter.
"""

from __future__ import annotations

import pytest

from tests.auth.home import Home, HomeFactory

TRUST_SECONDS = 600  # the default AUTH_TRUST_SECONDS
QUIET_SECONDS = 60  # the default NAS_QUIET_SECONDS


async def _logged_in(home: Home, username: str) -> dict[str, str]:
    response = await home.login(username, f"{username}-password")
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _me(home: Home, auth: dict[str, str]) -> tuple[int, object]:
    response = await home.pi.get("/api/auth/me", headers=auth)
    return response.status_code, response.json()


@pytest.mark.parametrize("secret", [True, False], ids=["with-secret", "without-secret"])
async def test_polling_me_within_the_trust_window_never_asks_the_nas(
    make_home: HomeFactory, secret: bool
) -> None:
    async with make_home(secret=secret) as home:
        await home.services.nas_link.aclose()
        auth = await _logged_in(home, "maria")
        before = home.nas_requests()
        answers = []
        for _ in range(9 * 6):  # nine minutes of a client polling every 10 s
            answers.append(await _me(home, auth))
            home.clock.advance(10)
        sent = home.nas_requests() - before

    assert sent == 0
    assert {status for status, _ in answers} == {200}
    assert all(body == answers[0][1] for _, body in answers)  # the NAS's UserPublic, kept


@pytest.mark.parametrize("secret", [True, False], ids=["with-secret", "without-secret"])
async def test_a_user_disabled_on_the_nas_is_refused_once_the_trust_window_has_passed(
    make_home: HomeFactory, secret: bool
) -> None:
    async with make_home(secret=secret) as home:
        await home.services.nas_link.aclose()
        auth = await _logged_in(home, "bob")
        home.deactivate_on_nas("bob")
        home.clock.advance(TRUST_SECONDS - 10)
        trusted = await _me(home, auth)
        home.clock.advance(20)  # past the window; bob's token has five minutes left
        before = home.nas_requests()
        refused = await _me(home, auth)
        asked = home.nas_requests() - before
        still_refused = await _me(home, auth)

    assert trusted[0] == 200  # what the NAS said at the login, for at most the trust window
    assert refused == (401, {"detail": "User account is inactive"})
    assert asked == 1
    assert still_refused == refused


async def test_users_due_at_once_are_confirmed_one_quiet_minute_apart(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True) as home:
        await home.services.nas_link.aclose()
        users = {name: await _logged_in(home, name) for name in ("admin", "maria", "bob")}
        home.clock.advance(TRUST_SECONDS + 1)
        sent_per_minute = []
        for _ in range(4):
            before = home.nas_requests()
            for _ in range(QUIET_SECONDS // 10):
                for auth in users.values():
                    assert (await _me(home, auth))[0] == 200
                home.clock.advance(10)
            sent_per_minute.append(home.nas_requests() - before)

    assert sent_per_minute == [1, 1, 1, 0]  # each user once, never two in one minute


async def test_an_expired_trust_window_asks_nothing_of_a_sleeping_nas(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True) as home:
        await home.services.nas_link.aclose()
        auth = await _logged_in(home, "maria")
        await home.pi_believes_nas_sleeps()
        home.clock.advance(TRUST_SECONDS + 60)
        before = home.nas_requests()
        answer = await _me(home, auth)
        sent = home.nas_requests() - before

    assert answer[0] == 200
    assert sent == 0
