"""``RequestGate``: the one door every request from BaluPi to the NAS passes through.

It sits under the ``NasClient`` as its HTTP transport, so no request can go round it: buffered
or streamed, from the link's probes, the pass-through, auth, listings or the upload worker. For
each request it knows

* **why it is sent**, its ``Purpose``: the caller says so with ``with nas_purpose(...)``; a
  request that does not say is a ``user`` request (a person is waiting), as every request was
  before the gate existed;
* **whether it may wake the NAS**: only user requests and BaluPi's deliberate wakes may.
  Background work is refused here, without a byte sent, while the link believes the NAS is not
  up (asleep, off, shutting down or still booting), and it always carries
  ``X-Sync-Trigger: auto``, the header BaluHost's auto-wake middleware reads on every path: if
  the NAS fell asleep since the link last looked, the request does not wake it (sync routes
  answer 503, which the caller retries later);
* **what was sent**, counted by purpose, with the number sent in the last minute: BaluHost's
  sleep service counts every request of the last 60 s and stays awake above 5 a minute
  (docs/compat/nas-sleep.md), so this is the figure that decides whether BaluPi lets it sleep.
"""

from __future__ import annotations

import enum
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx

from balupi.clock import Clock
from balupi.db.models import NasState

RATE_WINDOW = 60.0  # seconds: BaluHost's own request window
SYNC_TRIGGER = "X-Sync-Trigger"
# Not known to be up: background work waits for the NAS instead of waking it.
BACKGROUND_REFUSED_IN = frozenset(
    {NasState.SLEEPING, NasState.OFFLINE, NasState.SHUTTING_DOWN, NasState.WAKING}
)


class Purpose(enum.StrEnum):
    """Why BaluPi sends a request to the NAS."""

    USER = "user"  # a person waits for the answer: may wake the NAS
    PROBE = "probe"  # the link asking the NAS's state (whitelisted: never wakes it)
    WAKE = "wake"  # a wake BaluPi decided on for a user
    BACKGROUND = "background"  # work nobody waits for: never wakes the NAS


_purpose: ContextVar[Purpose] = ContextVar("nas_purpose", default=Purpose.USER)


@contextmanager
def nas_purpose(purpose: Purpose) -> Iterator[None]:
    """Mark the NAS requests made inside the block (and tasks started in it) as ``purpose``."""
    token = _purpose.set(purpose)
    try:
        yield
    finally:
        _purpose.reset(token)


def current_purpose() -> Purpose:
    return _purpose.get()


class RefusedWhileAsleep(httpx.ConnectError):
    """Background work met a NAS the link believes is not up: nothing was sent.

    A transport error, so ``NasClient`` turns it into ``NasUnreachable`` like any NAS that
    does not answer, and callers retry as they already do.
    """


class RequestGate(httpx.AsyncBaseTransport):
    """The NAS client's transport: decides, marks and counts every request, then sends it."""

    def __init__(
        self,
        clock: Clock,
        inner: httpx.AsyncBaseTransport | None = None,
        *,
        limits: httpx.Limits | None = None,
    ) -> None:
        self._clock = clock
        self._inner = inner or httpx.AsyncHTTPTransport(limits=limits or httpx.Limits())
        self._state: Callable[[], NasState] = lambda: NasState.UNKNOWN
        self.sent: Counter[Purpose] = Counter()
        self.refused: Counter[Purpose] = Counter()
        self._recent: deque[float] = deque()  # monotonic times of the last minute's requests

    def follow(self, state: Callable[[], NasState]) -> None:
        """Where the gate reads the NAS's state from (the link; built after the client)."""
        self._state = state

    def may_send(self, purpose: Purpose) -> bool:
        """Whether a request for ``purpose`` may go now; only background work is ever held."""
        return purpose is not Purpose.BACKGROUND or self._state() not in BACKGROUND_REFUSED_IN

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        purpose = current_purpose()
        if purpose is Purpose.BACKGROUND:
            request.headers[SYNC_TRIGGER] = "auto"
        if not self.may_send(purpose):
            self.refused[purpose] += 1
            raise RefusedWhileAsleep(
                f"not sent: background work does not wake a NAS that is {self._state().value}",
                request=request,
            )
        self.sent[purpose] += 1
        self._recent.append(self._clock.monotonic())
        return await self._inner.handle_async_request(request)

    def last_minute(self) -> int:
        """Requests sent in the last 60 s, whatever their purpose."""
        horizon = self._clock.monotonic() - RATE_WINDOW
        while self._recent and self._recent[0] <= horizon:
            self._recent.popleft()
        return len(self._recent)

    def report(self) -> dict[str, Any]:
        """What ``/api/nas/status`` shows: requests sent and refused by purpose, and the rate."""
        return {
            "requests_sent": {p.value: self.sent[p] for p in Purpose},
            "requests_refused": {p.value: self.refused[p] for p in Purpose},
            "requests_last_minute": self.last_minute(),
        }

    async def aclose(self) -> None:
        await self._inner.aclose()
