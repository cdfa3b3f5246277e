"""``LoginLimits``: per (user, client) attempts, failures per client, and the NAS's budget."""

from __future__ import annotations

from balupi.clock import ManualClock
from balupi.services.auth.ratelimit import LoginLimits

CLIENT = "10.0.0.2"


def test_a_right_password_starts_the_user_s_count_afresh() -> None:
    limits = LoginLimits(ManualClock())

    for _ in range(4):
        assert limits.attempt("maria", CLIENT)
        limits.failed("maria", CLIENT, by_nas=False)
    assert limits.attempt("maria", CLIENT)
    limits.succeeded("maria", CLIENT)

    assert [limits.attempt("maria", CLIENT) for _ in range(6)] == [True] * 5 + [False]


def test_failures_spread_over_many_names_are_bounded_per_client() -> None:
    clock = ManualClock()
    limits = LoginLimits(clock)

    for n in range(30):
        assert limits.attempt(f"name-{n}", CLIENT)
        limits.failed(f"name-{n}", CLIENT, by_nas=False)
    sprayed = limits.attempt("name-30", CLIENT)
    elsewhere = limits.attempt("name-30", "10.0.0.3")
    clock.advance(60)

    assert not sprayed
    assert elsewhere
    assert limits.attempt("name-30", CLIENT)


def test_a_client_the_nas_keeps_refusing_stops_spending_its_budget() -> None:
    limits = LoginLimits(ManualClock())

    for _ in range(2):
        limits.failed("maria", CLIENT, by_nas=True)
    maria_again = limits.may_ask_nas("maria", CLIENT)
    bob = limits.may_ask_nas("bob", CLIENT)
    limits.failed("bob", CLIENT, by_nas=True)  # the client's third refusal

    assert not maria_again
    assert bob
    assert not limits.may_ask_nas("admin", CLIENT)
    assert limits.may_ask_nas("maria", "10.0.0.3")
