"""The in-memory mirror of the users and token tables never serves a row older than a write."""

from __future__ import annotations

from balupi.services.auth.memo import WriteThroughMemo


def test_a_read_value_is_served_from_memory() -> None:
    memo: WriteThroughMemo[str, int] = WriteThroughMemo()
    found, _, ticket = memo.lookup("a")
    assert not found

    memo.put("a", 1, ticket)

    assert memo.lookup("a")[:2] == (True, 1)


def test_a_read_that_overlapped_a_write_is_not_kept() -> None:
    memo: WriteThroughMemo[str, int] = WriteThroughMemo()
    _, _, ticket = memo.lookup("a")  # the read starts…
    memo.invalidate()  # …a write ends meanwhile…
    memo.put("a", 1, ticket)  # …and the read's (possibly old) row arrives

    assert memo.lookup("a")[0] is False


def test_a_write_drops_what_was_kept() -> None:
    memo: WriteThroughMemo[str, int | None] = WriteThroughMemo()
    memo.put("a", None, memo.lookup("a")[2])
    assert memo.lookup("a")[:2] == (True, None)

    memo.invalidate()

    assert memo.lookup("a")[0] is False


def test_the_least_recently_used_value_goes_first() -> None:
    memo: WriteThroughMemo[str, int] = WriteThroughMemo(capacity=2)
    for key, value in (("a", 1), ("b", 2)):
        memo.put(key, value, memo.lookup(key)[2])
    memo.lookup("a")  # a is now the more recent
    memo.put("c", 3, memo.lookup("c")[2])

    assert [memo.lookup(k)[0] for k in ("a", "b", "c")] == [True, False, True]
