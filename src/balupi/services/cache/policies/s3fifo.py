"""S3-FIFO (Yang et al., SOSP '23), with every queue measured in bytes.

How S3-FIFO works, in short: most cached objects are never read again after the read that
brought them in (one-hit wonders), so new objects first go to a *small* FIFO queue holding
about a tenth of the cache. When the small queue is over its share, its oldest object moves
to the *main* queue if it was read while in the small queue, and is evicted otherwise, its
key remembered in a *ghost* queue (keys and sizes only, no data). An object fetched again
while its key is in the ghost goes straight to the main queue: it was evicted too soon.
The main queue is a FIFO with reinsertion: each object carries a small read counter (capped
at 3); at the old end an object with a non-zero counter is put back at the new end with the
counter decreased, one with a zero counter is evicted.

Byte-aware here: the small queue's share is 10 % of the tracked bytes (not of the number of
files), the ghost remembers about as many bytes as the main queue holds (and never more keys
than are cached), and eviction continues until the named sizes add up to the bytes needed.
For a photo library that means a video watched once leaves after one trip through the small
queue instead of pushing out hundreds of photos that are looked at every week.

Protected keys are put back at the new end of their own queue, counter unchanged; a protected
key with a non-zero counter is still promoted or reinserted (that is not an eviction). Keys
named by ``victims`` wait in a "leaving" list, tracked and counted, until the cache reports
their removal (the ones from the small queue then enter the ghost); a read in the meantime
puts the key at the new end of the main queue.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable

from balupi.services.cache.policies.base import StoredEntry, by_admission, checked_size


class _Item:
    __slots__ = ("freq", "from_small", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.freq = 0  # reads since admission or the last pass of the queue's old end, ≤ max
        self.from_small = False  # set when named from the small queue (ghost on removal)


class S3FifoPolicy:
    """S3-FIFO over a byte budget. O(1) per admission, read and removal; ``victims`` is
    amortised O(1) per key named (every promotion or reinsertion spends a read)."""

    name = "s3fifo"

    def __init__(self, *, small_ratio: float = 0.10, max_freq: int = 3) -> None:
        if not 0.0 < small_ratio < 1.0:
            raise ValueError("small_ratio is a share of the cache, strictly between 0 and 1")
        self._small_ratio = small_ratio
        self._max_freq = max_freq
        self._small: OrderedDict[str, _Item] = OrderedDict()  # oldest first
        self._main: OrderedDict[str, _Item] = OrderedDict()  # oldest first
        self._leaving: dict[str, _Item] = {}  # named by victims(), awaiting on_remove
        self._ghost: OrderedDict[str, int] = OrderedDict()  # key → size, oldest first
        self._small_bytes = 0
        self._main_bytes = 0
        self._leaving_bytes = 0
        self._ghost_bytes = 0

    @property
    def bytes(self) -> int:
        return self._small_bytes + self._main_bytes + self._leaving_bytes

    def __len__(self) -> int:
        return len(self._small) + len(self._main) + len(self._leaving)

    def __contains__(self, key: object) -> bool:
        return key in self._small or key in self._main or key in self._leaving

    def __repr__(self) -> str:
        return (
            f"<S3FifoPolicy small={len(self._small)}/{self._small_bytes}B "
            f"main={len(self._main)}/{self._main_bytes}B leaving={len(self._leaving)} "
            f"ghost={len(self._ghost)}>"
        )

    def admit(self, key: str, size: int) -> None:
        """New keys enter the small queue, or the main one if the ghost remembers them."""
        checked_size(size)
        if key in self:
            self._resize(key, size)
            self.on_access(key, size)
            return
        item = _Item(size)
        remembered = self._ghost.pop(key, None)
        if remembered is None:
            self._small[key] = item
            self._small_bytes += size
        else:
            self._ghost_bytes -= remembered
            self._main[key] = item
            self._main_bytes += size
        self._trim_ghost()

    def on_access(self, key: str, size: int) -> None:
        item = self._small.get(key) or self._main.get(key)
        if item is not None:
            item.freq = min(item.freq + 1, self._max_freq)
            return
        item = self._leaving.pop(key, None)
        if item is not None:  # read after being named: it stays after all
            self._leaving_bytes -= item.size
            item.freq = 0
            item.from_small = False
            self._main[key] = item
            self._main_bytes += item.size

    def on_remove(self, key: str) -> None:
        item = self._leaving.pop(key, None)
        if item is not None:
            self._leaving_bytes -= item.size
            if item.from_small:  # an eviction from the small queue: remember the key
                self._ghost[key] = item.size
                self._ghost_bytes += item.size
        elif (item := self._small.pop(key, None)) is not None:
            self._small_bytes -= item.size
        elif (item := self._main.pop(key, None)) is not None:
            self._main_bytes -= item.size

    def victims(self, bytes_needed: int, protected: Collection[str]) -> list[str]:
        chosen: list[str] = []
        freed = 0
        for key, item in self._leaving.items():  # named before and not removed yet: first
            if freed >= bytes_needed:
                return chosen
            if key not in protected:
                chosen.append(key)
                freed += item.size
        # Protected keys put back since the last eviction from each queue: once a queue's
        # count reaches its length, everything left in it is protected.
        small_passed = main_passed = 0
        while freed < bytes_needed:
            small_open = small_passed < len(self._small)
            main_open = main_passed < len(self._main)
            if small_open and (
                not main_open or self._small_bytes >= self._small_ratio * self.bytes
            ):
                key, item = self._small.popitem(last=False)
                self._small_bytes -= item.size
                if item.freq > 0:  # read while in the small queue: promote
                    item.freq = 0
                    self._main[key] = item
                    self._main_bytes += item.size
                elif key in protected:
                    self._small[key] = item
                    self._small_bytes += item.size
                    small_passed += 1
                else:
                    item.from_small = True
                    self._name(key, item, chosen)
                    freed += item.size
                    small_passed = 0
            elif main_open:
                key, item = self._main.popitem(last=False)
                if item.freq > 0:  # read since it last came round: reinsert, one read spent
                    item.freq -= 1
                    self._main[key] = item
                elif key in protected:
                    self._main[key] = item
                    main_passed += 1
                else:
                    self._main_bytes -= item.size
                    self._name(key, item, chosen)
                    freed += item.size
                    main_passed = 0
            else:
                break
        return chosen

    def restore(self, entries: Iterable[StoredEntry]) -> None:
        """Files read since their fill go to the main queue, the others to the small one.

        Both in admission order; counters start at zero and the ghost empty (neither is
        stored). That is the state a sweep would have reached (read files promoted, the
        others next out); the small queue may hold more than its share until the first sweep
        drains it, which is what would have happened to those never-reread files anyway.
        """
        for queue in (self._small, self._main, self._leaving, self._ghost):
            queue.clear()
        self._small_bytes = self._main_bytes = self._leaving_bytes = self._ghost_bytes = 0
        for entry in by_admission(entries):
            size = checked_size(entry.size)
            if entry.hits > 0:
                self._main[entry.key] = _Item(size)
                self._main_bytes += size
            else:
                self._small[entry.key] = _Item(size)
                self._small_bytes += size

    def _name(self, key: str, item: _Item, chosen: list[str]) -> None:
        self._leaving[key] = item
        self._leaving_bytes += item.size
        chosen.append(key)

    def _resize(self, key: str, size: int) -> None:
        for queue in (self._small, self._main, self._leaving):
            item = queue.get(key)
            if item is not None:
                delta = size - item.size
                item.size = size
                if queue is self._small:
                    self._small_bytes += delta
                elif queue is self._main:
                    self._main_bytes += delta
                else:
                    self._leaving_bytes += delta
                return

    def _trim_ghost(self) -> None:
        """Keep the ghost to about the main queue's bytes and at most one key per cached file."""
        limit = (1.0 - self._small_ratio) * self.bytes
        while self._ghost and (self._ghost_bytes > limit or len(self._ghost) > len(self)):
            _, size = self._ghost.popitem(last=False)
            self._ghost_bytes -= size
