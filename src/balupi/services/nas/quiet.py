"""``QuietBudget``: how often BaluPi may ask the NAS something nobody is waiting for.

BaluHost's sleep service counts every request of the last 60 s; above ``idle_http_threshold``
(5 a minute) the NAS is busy and its idle timer starts again (docs/compat/nas-sleep.md). Some
of BaluPi's requests are optional: re-checking a user for ``/api/auth/me`` when the Pi still
holds the NAS's word on them, or listing a folder again when the Pi can answer from its cache.
They share one budget, at most one per ``NAS_QUIET_SECONDS`` for all clients together, so any
number of polling clients costs the NAS at most one request a minute. What is refused now is
tried again at a later poll; the answer meanwhile comes from what the Pi holds.

Requests a user waits for (a folder never listed, a login, an upload) never ask this budget.
"""

from __future__ import annotations

from balupi.clock import Clock


class QuietBudget:
    """At most one optional request to the NAS per ``interval`` seconds."""

    def __init__(self, clock: Clock, interval: float = 60.0) -> None:
        self._clock = clock
        self._interval = interval
        self._last: float | None = None  # monotonic time of the last request allowed

    def take(self) -> bool:
        """True (and the slot is used) if an optional request may go to the NAS now."""
        now = self._clock.monotonic()
        if self._last is not None and now - self._last < self._interval:
            return False
        self._last = now
        return True
