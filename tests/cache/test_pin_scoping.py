"""Pins have owners: a user lifts only their own claim on a file; an admin may lift any pin.

Issue 11 finding 11: any user could remove a pin another user (or the admin) had set.
"""

from __future__ import annotations

import httpx

from tests.cache.conftest import CacheHome, MiB, pattern

PATH = "Shared/keep/report.bin"


async def _pin(cache_home: CacheHome, username: str, method: str) -> httpx.Response:
    return await cache_home.home.pi.request(
        method, "/api/cache/pins", params={"path": PATH}, headers=cache_home.auth(username)
    )


async def _pinned(cache_home: CacheHome, username: str) -> list[str]:
    answer = await cache_home.home.pi.get("/api/cache/pins", headers=cache_home.auth(username))
    return [pin["path"] for pin in answer.json()["pins"]]


async def test_only_the_owner_or_an_admin_lifts_a_pin(cache_home: CacheHome) -> None:
    cache_home.put(PATH, pattern(MiB, seed=11))
    assert (await _pin(cache_home, "maria", "PUT")).json()["pinned"] is True

    refused = await _pin(cache_home, "bob", "DELETE")
    assert refused.status_code == 403
    assert refused.json()["code"] == "access_denied"
    assert await _pinned(cache_home, "bob") == [PATH]  # still listed: bob may see Shared
    assert cache_home.cache.catalog.get(PATH).pinned  # type: ignore[union-attr]

    # bob's own claim is his to lift; maria's keeps the file pinned
    assert (await _pin(cache_home, "bob", "PUT")).json()["pinned"] is True
    lifted = await _pin(cache_home, "bob", "DELETE")
    assert lifted.status_code == 200
    assert lifted.json()["pinned"] is True
    assert await _pinned(cache_home, "maria") == [PATH]

    # maria lifts hers: the pin is gone
    assert (await _pin(cache_home, "maria", "DELETE")).json()["pinned"] is False
    assert await _pinned(cache_home, "maria") == []


async def test_an_admin_lifts_anyone_s_pin_and_users_cannot_lift_the_admin_s(
    cache_home: CacheHome,
) -> None:
    cache_home.put(PATH, pattern(MiB, seed=12))
    await _pin(cache_home, "admin", "PUT")
    assert (await _pin(cache_home, "maria", "DELETE")).status_code == 403
    await _pin(cache_home, "maria", "PUT")

    lifted = await _pin(cache_home, "admin", "DELETE")
    assert lifted.status_code == 200
    assert lifted.json()["pinned"] is False  # every claim lifted at once
    assert await _pinned(cache_home, "maria") == []


async def test_pin_owners_survive_a_restart_of_the_catalog(cache_home: CacheHome) -> None:
    cache_home.put(PATH, pattern(MiB, seed=13))
    await _pin(cache_home, "maria", "PUT")
    catalog = cache_home.cache.catalog
    entry = catalog.get(PATH)
    assert entry is not None
    reloaded = type(catalog)(cache_home.home.services.sessions)
    await reloaded.load({entry.sha256: entry.size})
    again = reloaded.get(PATH)
    assert again is not None
    assert again.pinned
    assert again.pinned_by == entry.pinned_by
