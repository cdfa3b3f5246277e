"""Per-client request limits, counted the way BaluHost's slowapi setup counts them.

slowapi keeps a fixed window per key in worker memory: the first hit opens a window of
``window_seconds``, every hit inside it counts, and once ``limit`` hits are used up the rest of the
window is refused. The emulator does the same so a client hammering login sees the NAS's 429 at the
NAS's moment (docs/compat/nas-api.md §0: the 6th login within a minute).
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class FixedWindowLimiter:
    """Allows ``limit`` hits per key in each window; ``limit=None`` allows everything."""

    def __init__(
        self, limit: int | None, clock: Callable[[], float], window_seconds: float = 60.0
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, hits)

    def hit(self, key: str) -> bool:
        """Count one hit for ``key``; False when it goes over the limit."""
        if self.limit is None:
            return True
        now = self._clock()
        with self._lock:
            start, hits = self._windows.get(key, (now, 0))
            if now - start >= self.window_seconds:
                start, hits = now, 0
            hits += 1
            self._windows[key] = (start, hits)
            return hits <= self.limit

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
