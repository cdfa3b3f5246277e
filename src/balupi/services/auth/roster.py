"""The NAS's list of its users, from its signed going-offline notice (``users.list``).

The snapshot BaluHost signs at shutdown names every user (docs/compat/nas-api.md §5.1). That list is
the NAS's word on who exists, but only as of the notice: once the NAS has been seen online again it
may have gained or lost users, so the list counts only while it is the NAS's latest word.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from balupi.services.nas.notices import StoredSnapshot


@dataclass(frozen=True)
class UserRoster:
    """Who the NAS said its users were, and when the Pi heard it."""

    usernames: frozenset[str]
    received_at: datetime

    @classmethod
    def of(cls, stored: StoredSnapshot | None) -> UserRoster | None:
        """The roster in a stored snapshot; None if it has no complete, well-formed list."""
        if stored is None:
            return None
        names = _listed_names(stored.snapshot.get("users"))
        return cls(names, stored.received_at) if names is not None else None

    def current(self, nas_last_seen: datetime | None) -> bool:
        """Whether the list is still the NAS's latest word: not seen online since."""
        return nas_last_seen is None or nas_last_seen <= self.received_at


def _listed_names(users: Any) -> frozenset[str] | None:
    if not isinstance(users, dict) or not isinstance(users.get("list"), list):
        return None
    names: list[str] = []
    for entry in users["list"]:
        name = entry.get("username") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            return None
        names.append(name)
    total = users.get("total")
    if isinstance(total, int) and total != len(names):  # a shortened list proves nothing
        return None
    return frozenset(names)
