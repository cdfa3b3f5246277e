"""``UserRoster``: the NAS's user list from its signed snapshot, trusted only while current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from balupi.services.auth.roster import UserRoster
from balupi.services.nas.notices import StoredSnapshot

RECEIVED = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


def _stored(users: Any) -> StoredSnapshot:
    return StoredSnapshot(RECEIVED, int(RECEIVED.timestamp()), {"version": 1, "users": users})


def test_the_listed_names_make_the_roster() -> None:
    users = {"total": 2, "list": [{"username": "admin", "role": "admin"}, {"username": "Zoë"}]}
    roster = UserRoster.of(_stored(users))

    assert roster == UserRoster(frozenset({"admin", "Zoë"}), RECEIVED)


@pytest.mark.parametrize(
    "users",
    [
        None,
        [],
        {"total": 1},
        {"list": "admin"},
        {"list": [{"role": "user"}]},
        {"list": [{"username": ""}]},
        {"list": ["admin"]},
        {"total": 3, "list": [{"username": "admin"}]},  # shortened: proves nothing
    ],
)
def test_a_list_that_is_missing_malformed_or_short_is_no_roster(users: Any) -> None:
    assert UserRoster.of(_stored(users)) is None


def test_no_snapshot_is_no_roster() -> None:
    assert UserRoster.of(None) is None


def test_the_roster_is_current_until_the_nas_is_seen_online_after_it() -> None:
    roster = UserRoster(frozenset({"admin"}), RECEIVED)

    assert roster.current(None)
    assert roster.current(RECEIVED - timedelta(minutes=5))
    assert roster.current(RECEIVED)
    assert not roster.current(RECEIVED + timedelta(seconds=1))
