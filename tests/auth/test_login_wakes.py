"""Which logins may wake a sleeping NAS (issue 11, #8).

The NAS's signed going-offline notice lists its users. While that list is the NAS's latest word
(it has not been seen online since), a name missing from it is no user: 401 without a wake. A
name the Pi cannot judge (no list, or one the NAS may have outdated since) wakes the NAS at most
once per interval across all such names. Known users wake it as before. The emulator listens for
the Pi's magic packets and really wakes.
"""

from __future__ import annotations

from tests.auth.home import Home, HomeFactory

INVALID = {"detail": "Invalid credentials"}
STRANGER_WAKE_INTERVAL = 15 * 60


async def _woken_again(home: Home) -> None:
    """The NAS booted on the Pi's packet; the Pi saw it, and it goes back to sleep."""
    assert await home.services.nas_link.wait_online(5), "the NAS never woke"
    await home.nas_sleeps()


async def test_a_name_missing_from_the_nas_s_signed_user_list_is_refused_without_a_wake(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True, wol=True) as home:
        await home.nas_shuts_down_with_notice()
        stranger = await home.login("nobody", "whatever")
        packets_after_stranger = home.wake_packets()
        still_asleep = home.nas_is_asleep()
        listed = await home.login("admin", "admin-password")  # a user, never seen by the Pi
        packets_after_listed = home.wake_packets()

    assert stranger.status_code == 401
    assert stranger.json() == INVALID
    assert packets_after_stranger == 0
    assert still_asleep
    assert listed.status_code == 503  # as before: the Pi cannot check it, so the NAS is woken
    assert packets_after_listed == 1


async def test_a_cached_user_the_nas_no_longer_lists_loses_the_offline_login(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True, wol=True) as home:
        assert (await home.login("maria", "maria-password")).status_code == 200
        home.delete_on_nas("maria")
        await home.nas_shuts_down_with_notice()
        gone = await home.login("maria", "maria-password")
        packets = home.wake_packets()

    assert gone.status_code == 401
    assert gone.json() == INVALID
    assert packets == 0


async def test_names_the_pi_cannot_judge_wake_the_nas_at_most_once_per_interval(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True, wol=True) as home:
        await home.nas_sleeps()  # no notice: the Pi has no list of users
        first = await home.login("nobody", "whatever")
        await _woken_again(home)
        home.clock.advance(60)  # past the waker's own 15 s between packets
        second = await home.login("somebody-else", "whatever")
        packets_within = home.wake_packets()
        home.clock.advance(STRANGER_WAKE_INTERVAL)
        third = await home.login("yet-another", "whatever")
        packets_after = home.wake_packets()

    assert [first.status_code, second.status_code, third.status_code] == [503] * 3
    assert int(second.headers["Retry-After"]) > 0
    assert packets_within == 1
    assert packets_after == 2


async def test_a_user_list_the_nas_may_have_changed_since_is_not_trusted(
    make_home: HomeFactory,
) -> None:
    async with make_home(secret=True, wol=True) as home:
        await home.nas_shuts_down_with_notice()
        home.clock.advance(60)
        await home.nas_wakes()  # up again: users may have been added since the list
        home.nas_state.add_user("newcomer", "newcomer-password")
        await home.nas_sleeps()  # and asleep again without a notice
        newcomer = await home.login("newcomer", "newcomer-password")
        packets = home.wake_packets()

    assert newcomer.status_code == 503
    assert packets == 1
