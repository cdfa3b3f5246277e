"""A bounded in-memory mirror of rows this process alone writes, for reads on every request.

Every protected request reads the verdict on its token and the token's user. Both tables are
written only through their store in this process, so the store can keep what it read in memory
and drop it on each of its own writes, and a request then costs no database round trip (two
aiosqlite thread hops each, the largest part of a small request on a Pi).

A read that began before a write and ends after it must not put the old row back: ``lookup``
returns a ticket, and ``put`` stores only if no write has ended since that ticket was issued.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class WriteThroughMemo(Generic[K, V]):
    """The last ``capacity`` values read, least recently used first out."""

    def __init__(self, capacity: int = 2048) -> None:
        self._capacity = capacity
        self._values: OrderedDict[K, V] = OrderedDict()
        self._generation = 0

    def lookup(self, key: K) -> tuple[bool, V | None, int]:
        """``(found, value, ticket)``; on a miss, read the store and ``put`` with the ticket."""
        if key not in self._values:
            return False, None, self._generation
        self._values.move_to_end(key)
        return True, self._values[key], self._generation

    def put(self, key: K, value: V, ticket: int) -> None:
        if ticket != self._generation:
            return  # the store was written while this value was read: it may be stale
        self._values[key] = value
        self._values.move_to_end(key)
        if len(self._values) > self._capacity:
            self._values.popitem(last=False)

    def invalidate(self) -> None:
        """The store changed: call after every write has ended, committed or not."""
        self._generation += 1
        self._values.clear()
