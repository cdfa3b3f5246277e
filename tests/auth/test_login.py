"""``POST /api/auth/login``: the NAS's answer while it is awake, the verifier while it sleeps.

Real HTTP on loopback against the NAS emulator (``make_home``); time moves on the shared clock.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from balupi.db.models import User
from tests.auth.home import Home, HomeFactory

RATE_LIMITED = {
    "error": "Too Many Requests",
    "detail": "Rate limit exceeded. Please try again later.",
    "retry_after": 60,
}


async def _cached_user(home: Home, username: str) -> User | None:
    async with home.services.sessions() as session:
        return await session.scalar(select(User).where(User.username == username))


async def test_login_while_awake_is_the_nas_s_answer_and_leaves_a_verifier(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=False) as home:
        response = await home.login("maria", "maria-password")
        cached = await _cached_user(home, "maria")
        form = await home.pi.post(
            "/api/auth/login", data={"username": "maria", "password": "maria-password"}
        )
        async with home.nas_client() as nas:
            at_nas = await nas.get(
                "/api/auth/me",
                headers={"Authorization": f"Bearer {response.json()['access_token']}"},
            )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "user"}
    assert body["token_type"] == "bearer"
    assert body["user"]["username"] == "maria"
    assert at_nas.status_code == 200  # a NAS token, issued by the NAS
    assert cached is not None
    assert cached.id == str(home.nas_user_id("maria"))
    assert cached.password_verifier is not None
    assert cached.password_verifier.startswith("scrypt$")
    assert "maria-password" not in cached.password_verifier
    assert cached.verifier_expires_at == home.clock.now() + timedelta(days=30)
    assert form.status_code == 422  # JSON only, as the NAS


async def test_offline_login_gives_a_token_the_nas_accepts_after_waking(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True) as home:
        assert (await home.login("maria", "maria-password")).status_code == 200
        await home.nas_sleeps()
        home.clock.advance(3600)
        response = await home.login("maria", "maria-password")
        token = response.json()["access_token"]
        me_while_asleep = await home.me(token)
        await home.nas_wakes()
        async with home.nas_client() as nas:
            at_nas = await nas.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    assert response.json()["user"]["username"] == "maria"
    assert me_while_asleep == 200
    assert at_nas.status_code == 200
    assert at_nas.json()["username"] == "maria"


async def test_offline_login_without_the_nas_key_gives_a_pi_only_token(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=False) as home:
        assert (await home.login("maria", "maria-password")).status_code == 200
        await home.pi_believes_nas_sleeps()  # the NAS stays up, counting what reaches it
        before = home.nas_requests()
        response = await home.login("maria", "maria-password")
        token = response.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}", "X-Device-ID": "a-phone-the-pi-never-saw"}
        me_asleep = await home.pi.get("/api/auth/me", headers=auth)
        status_asleep = await home.pi.get("/api/nas/status", headers=auth)
        requests_while_asleep = home.nas_requests() - before
        await home.nas_wakes()
        me_awake = await home.me(token)  # still the Pi's to judge: never shown to the NAS
        async with home.nas_client() as nas:
            at_nas = await nas.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert requests_while_asleep == 0
    assert me_asleep.status_code == status_asleep.status_code == 200
    assert me_asleep.json()["username"] == "maria"
    assert me_awake == 200
    assert at_nas.status_code == 401


async def test_offline_login_refuses_unknown_users_with_503_and_wrong_passwords_with_401(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True) as home:
        assert (await home.login("maria", "maria-password")).status_code == 200
        await home.pi_believes_nas_sleeps()
        before = home.nas_requests()
        unknown = await home.login("admin", "admin-password")  # never logged in through the Pi
        wrong = await home.login("maria", "not-her-password")
        home.clock.advance(timedelta(days=30).total_seconds())  # the verifier's lifetime
        expired = await home.login("maria", "maria-password")
        requests_while_asleep = home.nas_requests() - before

    assert unknown.status_code == 503
    assert int(unknown.headers["Retry-After"]) > 0
    assert unknown.json()["retry_after"] == int(unknown.headers["Retry-After"])
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Invalid credentials"}
    assert expired.status_code == 503
    assert requests_while_asleep == 0


async def test_offline_logins_are_rate_limited_per_client(make_home: HomeFactory) -> None:
    async with make_home(secret=True) as home:
        assert (await home.login("maria", "maria-password")).status_code == 200
        await home.nas_sleeps()
        attempts = [(await home.login("maria", f"guess-{n}")).status_code for n in range(5)]
        limited = await home.login("maria", "maria-password")  # even the right one, now
        home.clock.advance(60)
        after_a_minute = await home.login("maria", "maria-password")

    assert attempts == [401] * 5
    assert limited.status_code == 429
    assert limited.json() == RATE_LIMITED
    assert limited.headers["Retry-After"] == "60"
    assert after_a_minute.status_code == 200


async def test_the_nas_login_limit_shared_behind_the_pi_does_not_lock_out_known_users(
    make_home: HomeFactory,
) -> None:
    # The NAS allows 5 logins a minute per address; behind the Pi every client has the Pi's.
    async with make_home(secret=True, login_limit=5) as home:
        first = await home.login("maria", "maria-password")
        others = [(await home.login("admin", "admin-password")).status_code for _ in range(4)]
        known = await home.login("maria", "maria-password")  # the NAS says 429; the Pi can check
        wrong = await home.login("maria", "not-her-password")
        unknown = await home.login("nobody", "whatever")  # the Pi cannot: the NAS's 429 stands

    assert first.status_code == 200
    assert others == [200] * 4
    assert known.status_code == 200
    assert known.json()["user"]["username"] == "maria"
    assert wrong.status_code == 401
    assert unknown.status_code == 429


async def test_offline_login_is_refused_once_the_nas_said_the_user_is_inactive(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True) as home:
        assert (await home.login("bob", "bob-password")).status_code == 200
        home.deactivate_on_nas("bob")
        # The NAS logs inactive users in (docs/compat/nas-api.md §2.1) but refuses their tokens; the
        # Pi learns it from the NAS's own words the first time it asks.
        nas_token = (await home.login("bob", "bob-password")).json()["access_token"]
        assert await home.me(nas_token) == 401
        await home.nas_sleeps()
        offline = await home.login("bob", "bob-password")

    assert offline.status_code == 401
    assert offline.json() == {"detail": "User account is inactive"}
