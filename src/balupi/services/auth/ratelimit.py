"""Login limits: per user and client address, and a guard on the NAS's shared login budget.

While the NAS is awake its own limiter (slowapi, 5 logins a minute per IP) protects passwords,
but it sees every client behind the Pi as the Pi's one address: one client hammering a password
would lock everyone out. While it sleeps the Pi is the only one checking. So the Pi counts every
attempt itself, before forwarding anything, in fixed windows opened by the first attempt:

* 5 a minute per (username, client address), as the NAS allows per address, started afresh by a
  right password: hammering one user locks out neither her on another device nor other users;
* 30 failed logins a minute per client address over all names, so one client cannot spray
  guesses across users (or grow the tables) without bound; right passwords are free;
* of the attempts the NAS refused, at most 2 a minute per (username, client) and 3 per client
  are forwarded: one client can never spend the whole of the NAS's 5; the rest are checked
  against the Pi's verifier where it has one, else refused with 429.

Windows that have ended are pruned, so a stream of new keys cannot grow a table without bound.
"""

from __future__ import annotations

from collections.abc import Hashable

from balupi.clock import Clock

_PRUNE_ABOVE = 1024  # keys kept before ended windows are swept out
WINDOW_SECONDS = 60.0
ATTEMPTS_PER_USER_AND_CLIENT = 5  # as the NAS's own limiter, per address
FAILURES_PER_CLIENT = 30
NAS_REFUSALS_PER_USER_AND_CLIENT = 2
NAS_REFUSALS_PER_CLIENT = 3  # below the NAS's 5 a minute for the Pi's whole address


class FixedWindowLimiter:
    """Allows ``limit`` attempts per key in each ``window_seconds``."""

    def __init__(self, limit: int, window_seconds: float, clock: Clock) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._windows: dict[Hashable, tuple[float, int]] = {}  # key -> (window start, attempts)

    def hit(self, key: Hashable) -> bool:
        """Count one attempt for ``key``; False once the window's attempts are used up."""
        now = self._clock.monotonic()
        start, attempts = self._current(key, now)
        attempts += 1
        self._windows[key] = (start, attempts)
        if len(self._windows) > _PRUNE_ABOVE:
            self._prune(now)
        return attempts <= self.limit

    def allows(self, key: Hashable) -> bool:
        """Whether one more attempt for ``key`` would be allowed (nothing is counted)."""
        return self._current(key, self._clock.monotonic())[1] < self.limit

    def reset(self, key: Hashable) -> None:
        """Forget ``key``'s attempts."""
        self._windows.pop(key, None)

    def _current(self, key: Hashable, now: float) -> tuple[float, int]:
        start, attempts = self._windows.get(key, (now, 0))
        if now - start >= self.window_seconds:
            return now, 0
        return start, attempts

    def _prune(self, now: float) -> None:
        self._windows = {
            key: window
            for key, window in self._windows.items()
            if now - window[0] < self.window_seconds
        }


class LoginLimits:
    """The Pi's login limits (see the module docstring); one instance per ``AuthService``."""

    def __init__(self, clock: Clock) -> None:
        self._attempts = FixedWindowLimiter(ATTEMPTS_PER_USER_AND_CLIENT, WINDOW_SECONDS, clock)
        self._client_failures = FixedWindowLimiter(FAILURES_PER_CLIENT, WINDOW_SECONDS, clock)
        self._refusals = FixedWindowLimiter(NAS_REFUSALS_PER_USER_AND_CLIENT, WINDOW_SECONDS, clock)
        self._client_refusals = FixedWindowLimiter(NAS_REFUSALS_PER_CLIENT, WINDOW_SECONDS, clock)

    def attempt(self, username: str, client: str) -> bool:
        """Count a login attempt; False if it must be refused with 429 unchecked.

        Attempts refused here are not counted again, so a client hammering one user can still
        log in others.
        """
        pair = (username, client)
        if not (self._attempts.allows(pair) and self._client_failures.allows(client)):
            return False
        return self._attempts.hit(pair)

    def may_ask_nas(self, username: str, client: str) -> bool:
        """Whether this login may spend the NAS's per-address budget."""
        return self._refusals.allows((username, client)) and self._client_refusals.allows(client)

    def succeeded(self, username: str, client: str) -> None:
        """The password was right: this client is not guessing it, its count starts afresh."""
        self._attempts.reset((username, client))

    def failed(self, username: str, client: str, *, by_nas: bool) -> None:
        """A wrong password (or no such user), decided by the NAS or by the Pi."""
        self._client_failures.hit(client)
        if by_nas:
            self._refusals.hit((username, client))
            self._client_refusals.hit(client)
