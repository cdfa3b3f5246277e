"""A per-client limit on offline login attempts, so a cached verifier cannot be brute-forced.

While the NAS is awake its own limiter (slowapi, 5 logins a minute per IP) protects the
password; while it sleeps the Pi is the only one checking, so it counts the same way: a fixed
window per key, opened by the first attempt. Windows that have ended are pruned, so a stream
of new addresses cannot grow the table without bound.
"""

from __future__ import annotations

from balupi.clock import Clock

_PRUNE_ABOVE = 1024  # keys kept before ended windows are swept out


class FixedWindowLimiter:
    """Allows ``limit`` attempts per key in each ``window_seconds``."""

    def __init__(self, limit: int, window_seconds: float, clock: Clock) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, attempts)

    def hit(self, key: str) -> bool:
        """Count one attempt for ``key``; False once the window's attempts are used up."""
        now = self._clock.monotonic()
        start, attempts = self._windows.get(key, (now, 0))
        if now - start >= self.window_seconds:
            start, attempts = now, 0
        attempts += 1
        self._windows[key] = (start, attempts)
        if len(self._windows) > _PRUNE_ABOVE:
            self._prune(now)
        return attempts <= self.limit

    def _prune(self, now: float) -> None:
        self._windows = {
            key: window
            for key, window in self._windows.items()
            if now - window[0] < self.window_seconds
        }
