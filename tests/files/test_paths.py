"""The NAS's path rules as the Pi enforces them."""

from __future__ import annotations

import pytest

from balupi.errors import AccessDenied, InvalidPath
from balupi.services.files.paths import Viewer, ancestors, normalize_path

ALICE = Viewer("alice", is_admin=False)
ADMIN = Viewer("admin", is_admin=True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", ""), ("/", ""), (None, ""), ("/Shared/a/", "Shared/a"), ("Shared//a/./b", "Shared/a/b")],
)
def test_paths_are_normalised_like_the_nas(raw: str | None, expected: str) -> None:
    assert normalize_path(raw) == expected


@pytest.mark.parametrize("raw", ["..", "Shared/../bob", "alice/..", "a/../../etc"])
def test_dot_dot_is_invalid(raw: str) -> None:
    with pytest.raises(InvalidPath) as caught:
        normalize_path(raw)
    assert (caught.value.status_code, caught.value.detail) == (400, "Invalid path")


@pytest.mark.parametrize(
    "path", ["", "Shared", "Shared/x.jpg", "alice", "alice/a/b", "Shared with me"]
)
def test_a_user_sees_shared_their_home_and_the_virtual_root(path: str) -> None:
    assert ALICE.require(path) == path


@pytest.mark.parametrize(
    "path", ["bob", "bob/notes.md", ".system", ".tmp/x", ".Trash-1000", "alicex"]
)
def test_a_user_is_refused_everything_else(path: str) -> None:
    with pytest.raises(AccessDenied) as caught:
        ALICE.require(path)
    assert (caught.value.status_code, caught.value.detail) == (403, "Access denied")


def test_an_admin_sees_everything() -> None:
    for path in ("bob/notes.md", ".system/x", "anything"):
        assert ADMIN.can_see(path)


def test_folders_the_nas_listed_for_a_user_are_granted_with_their_contents() -> None:
    alice = ALICE.with_grants(["bob/Holiday"])
    assert alice.can_see("bob/Holiday")
    assert alice.can_see("bob/Holiday/beach.jpg")
    assert not alice.can_see("bob")
    assert not alice.can_see("bob/Private/x")


def test_ancestors() -> None:
    assert ancestors("a/b/c") == ["a", "a/b"]
    assert ancestors("a") == []
    assert ancestors("") == []


def test_in_their_home_a_user_is_shown_only_what_they_own_or_what_has_no_owner() -> None:
    alice = Viewer("alice", is_admin=False, user_id="7").with_grants(["bob/Holiday"])
    assert alice.user_id == "7"
    assert alice.shows("alice/mine.txt", "7")
    assert alice.shows("alice/by-hand.txt", None)
    assert not alice.shows("alice/admins.txt", "1")
    assert alice.shows("Shared/admins.txt", "1")
    assert alice.shows("bob/Holiday/beach.jpg", "8")  # a share shows its owner's files
    assert not alice.shows("bob/Private/x", "8")
    assert ADMIN.shows("alice/admins.txt", "1")
