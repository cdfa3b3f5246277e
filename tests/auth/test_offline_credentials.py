"""Offline credentials as SSSD keeps them, and login limits per user and client (issue 11, #1).

A failed online check never erases the cached verifier; the NAS accepting a new password replaces
it; only the NAS refusing the very password the verifier matches (changed, or the user is gone)
drops it. Limits count per (user, client address), and a client the NAS keeps refusing is not
forwarded further, so it cannot spend the NAS's per-address budget that every client behind the
Pi shares. Real HTTP on loopback against the NAS emulator; other clients connect from other
loopback addresses.
"""

from __future__ import annotations

from sqlalchemy import select

from balupi.db.models import User
from tests.auth.home import Home, HomeFactory

INVALID = {"detail": "Invalid credentials"}


async def _verifier_of(home: Home, username: str) -> str | None:
    async with home.services.sessions() as session:
        user = await session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user.password_verifier


async def test_a_mistyped_password_while_awake_keeps_the_offline_login(
    make_home: HomeFactory,
) -> None:
    # The scenario: alex logs in, someone mistypes alex's password while the NAS is up,
    # the NAS goes away.
    async with make_home(secret=True) as home:
        assert (await home.login("maria", "maria-password")).status_code == 200
        typo = await home.login("maria", "maria-passwrod")
        await home.nas_sleeps()
        right = await home.login("maria", "maria-password")
        wrong = await home.login("maria", "maria-passwrod")

    assert typo.status_code == 401
    assert right.status_code == 200
    assert right.json()["user"]["username"] == "maria"
    assert wrong.status_code == 401
    assert wrong.json() == INVALID


async def test_a_password_changed_on_the_nas_replaces_the_verifier(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True) as home:
        assert (await home.login("maria", "maria-password")).status_code == 200
        home.change_password_on_nas("maria", "new-password")
        # The NAS refuses the very password the verifier matches: it is no longer hers.
        old_refused = await home.login("maria", "maria-password")
        dropped = await _verifier_of(home, "maria")
        await home.pi_believes_nas_sleeps()
        old_offline = await home.login("maria", "maria-password")
        await home.nas_wakes()
        assert (await home.login("maria", "new-password")).status_code == 200
        replaced = await _verifier_of(home, "maria")
        await home.nas_sleeps()
        new_offline = await home.login("maria", "new-password")
        old_after = await home.login("maria", "maria-password")

    assert old_refused.status_code == 401
    assert dropped is None
    assert old_offline.status_code == 503  # nothing left to check it against
    assert replaced is not None
    assert new_offline.status_code == 200
    assert old_after.status_code == 401
    assert old_after.json() == INVALID


async def test_a_client_hammering_one_user_locks_out_neither_her_elsewhere_nor_others(
    make_home: HomeFactory,
) -> None:
    # The NAS allows 5 logins a minute per address, and sees every client as the Pi's address.
    async with make_home(secret=True, login_limit=5) as home:
        assert (await home.login("maria", "maria-password")).status_code == 200
        hammered = [(await home.login("maria", f"guess-{n}")).status_code for n in range(200)]
        async with home.client_from("127.0.0.2") as elsewhere:
            her_login = await home.login("maria", "maria-password", client=elsewhere)
            other_user_same_client = await home.login("bob", "bob-password")
            # The NAS's 5 are spent by now (1 + 2 refused + 2); the Pi checks bob itself.
            other_user_elsewhere = await home.login("bob", "bob-password", client=elsewhere)

    assert hammered[:5] == [401] * 5  # 2 refused by the NAS, 3 by the Pi's verifier
    assert set(hammered[5:]) == {429}
    assert her_login.status_code == 200
    assert her_login.json()["user"]["username"] == "maria"
    assert other_user_same_client.status_code == 200
    assert other_user_same_client.json()["user"]["username"] == "bob"
    assert other_user_elsewhere.status_code == 200


async def test_offline_login_limits_count_per_user_and_client(make_home: HomeFactory) -> None:
    async with make_home(secret=True) as home:
        assert (await home.login("maria", "maria-password")).status_code == 200
        assert (await home.login("bob", "bob-password")).status_code == 200
        await home.nas_sleeps()
        guesses = [(await home.login("maria", f"guess-{n}")).status_code for n in range(6)]
        bob_same_client = await home.login("bob", "bob-password")
        async with home.client_from("127.0.0.2") as elsewhere:
            maria_elsewhere = await home.login("maria", "maria-password", client=elsewhere)

    assert guesses == [401] * 5 + [429]
    assert bob_same_client.status_code == 200
    assert maria_elsewhere.status_code == 200
