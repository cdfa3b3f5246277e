"""Misses: bytes the cache does not hold, fetched from the NAS as the requesting user.

A cacheable miss goes through one ``Fill`` per file (``fetch.py``: single flight); a file the
cache does not admit (larger than ``max_file_bytes`` or than the room there is, or without a
``Content-Length``), a ``Range`` on a file not cached and a path only the NAS can judge are
passed through: streamed from the NAS to this one client, nothing written to the SSD.
A verified fill is committed here: fsync, rename into the store, a catalog row, the policy told.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack

import anyio
import httpx

from balupi.clock import Clock
from balupi.errors import AuthUndecided, NasRejected, NasUnreachable
from balupi.services.auth import AuthenticatedUser, CredentialKind
from balupi.services.cache.catalog import Catalog, Entry
from balupi.services.cache.eviction import Evictor
from balupi.services.cache.fetch import (
    FILL_LIMIT,
    FILL_TURN_WAIT_S,
    Fill,
    FillResult,
    FillSlots,
    Flights,
    Outcome,
)
from balupi.services.cache.model import FileSpan, RangeHeaders, StreamDelivery
from balupi.services.cache.origin import (
    NasOrigin,
    content_length,
    http_date,
    kept_headers,
    rejection,
)
from balupi.services.cache.policy_api import EvictionPolicy
from balupi.services.cache.sources import ListingSource
from balupi.services.cache.stats import CacheCounters
from balupi.services.cache.store import ContentStore
from balupi.tasks import TaskOwner

JOIN_ATTEMPTS = 3  # a joiner whose leader gave up retries as leader, this often at most


def _require_nas_credential(user: AuthenticatedUser) -> None:
    if user.kind is CredentialKind.PI_TOKEN:
        raise AuthUndecided("A token the Pi issued cannot fetch from the NAS; log in again")


class Filler:
    """Answers misses; owns the fills in flight."""

    def __init__(
        self,
        *,
        store: ContentStore,
        catalog: Catalog,
        evictor: Evictor,
        origin: NasOrigin,
        listings: ListingSource,
        policy: EvictionPolicy,
        counters: CacheCounters,
        clock: Clock,
        tasks: TaskOwner,
    ) -> None:
        self._tasks = tasks
        self._slots = FillSlots(FILL_LIMIT)  # copies at once, over all this cache's fills
        self._store = store
        self._catalog = catalog
        self._evictor = evictor
        self._origin = origin
        self._listings = listings
        self._policy = policy
        self._counters = counters
        self._clock = clock
        self.flights = Flights()

    async def miss(self, user: AuthenticatedUser, path: str) -> StreamDelivery:
        """Lead a new fill of ``path``, join the one in flight, or pass the file through."""
        _require_nas_credential(user)
        for _ in range(JOIN_ATTEMPTS):
            fill = self.flights.get(path)
            if fill is None:
                return await self._lead(user, path)
            outcome = await fill.opened()
            if outcome is Outcome.ATTACH:
                return self._reader(fill)
            if outcome is Outcome.REJECTED and fill.rejection is not None:
                raise fill.rejection
            if outcome is Outcome.UNCACHEABLE:
                return await self.passthrough(user, path, RangeHeaders())
        raise NasUnreachable(f"The download of {path} could not be started", retry_after=5)

    async def passthrough(
        self, user: AuthenticatedUser, path: str, ranges: RangeHeaders
    ) -> StreamDelivery:
        """The NAS's answer for this user alone, uncached (its 401/403/404 raised as such)."""
        _require_nas_credential(user)
        resources = AsyncExitStack()
        try:
            response = await resources.enter_async_context(
                self._origin.download(
                    path, user.token, byte_range=ranges.range, if_range=ranges.if_range
                )
            )
            if response.status_code in (401, 403, 404):
                raise await rejection(response)
        except BaseException:
            await resources.aclose()
            raise
        return self._stream(response, resources)

    async def cancel_all(self) -> None:
        for fill in self.flights.active():
            await fill.cancel()

    # -- leading a fill ------------------------------------------------------------------------
    async def _lead(self, user: AuthenticatedUser, path: str) -> StreamDelivery:
        fill = self.flights.lead(path)
        resources = AsyncExitStack()
        turn = False  # one of ``_slots`` held, until the fill takes it over
        try:
            expected = await self._listings.known(path)
            if expected is None or self._evictor.admits(expected.size):
                turn = await self._take_turn()  # before the NAS is asked (FillSlots)
                if not turn:  # every copy turn is taken and stays taken: not cached this time
                    self._refuse(fill, Outcome.RETRY)
                    return await self.passthrough(user, path, RangeHeaders())
            response = await resources.enter_async_context(self._origin.download(path, user.token))
            if response.status_code != 200:
                refused = await rejection(response)
                await resources.aclose()
                # A 404 holds for everyone; a 401/403 may depend on who asks.
                shared = Outcome.REJECTED if refused.status_code == 404 else Outcome.RETRY
                self._refuse(fill, shared, refused)
                raise refused
            headers = kept_headers(response)
            size = content_length(headers)
            if size is None or not self._evictor.admits(size):
                self._refuse(fill, Outcome.UNCACHEABLE)
                return self._stream(response, resources)
            if not turn:  # the listing said too large, but the file changed meanwhile
                await self._slots.acquire()
                turn = True
            writer = await anyio.to_thread.run_sync(self._store.new_writer)
            checksum = expected.checksum if expected is not None and expected.size == size else None
            fill.start(
                response,
                resources,
                writer,
                size,
                headers,
                expected_sha256=checksum,
                commit=self._commit,
                finished=self._finished,
                tasks=self._tasks,
                slots=self._slots,
            )
            turn = False  # the fill's now: given back when its copy ends
        except BaseException:
            if fill.outcome is None:  # the leader itself failed or left: joiners retry
                self._refuse(fill, Outcome.RETRY)
                await resources.aclose()
            raise
        finally:
            if turn:
                self._slots.release()
        return self._reader(fill)

    async def _take_turn(self) -> bool:
        """One of the copy turns, if one comes free within ``FILL_TURN_WAIT_S``."""
        try:
            async with asyncio.timeout(FILL_TURN_WAIT_S):
                await self._slots.acquire()
        except TimeoutError:
            return False
        return True

    def _refuse(self, fill: Fill, outcome: Outcome, refused: NasRejected | None = None) -> None:
        fill.refuse(outcome, refused)
        self.flights.finish(fill)

    def _finished(self, fill: Fill) -> None:
        self.flights.finish(fill)
        if fill.blob is None:
            self._counters.fills_failed += 1

    async def _commit(self, fill: Fill, result: FillResult) -> str:
        """A verified fill: fsync, rename into the store, record the path (then maybe evict)."""
        await anyio.to_thread.run_sync(result.writer.finish)
        blob = await anyio.to_thread.run_sync(self._store.commit, result.writer.path, result.sha256)
        now = self._clock.now()
        entry = Entry(
            path=fill.path,
            size=fill.size,
            sha256=result.sha256,
            etag=result.headers.get("etag"),
            last_modified=http_date(result.headers.get("last-modified")),
            created_at=now,
            validated_at=now,
        )
        self._evictor.keep(entry.sha256)
        old = await self._catalog.put(entry)
        if old is not None:
            self._policy.on_remove(old.path)
            self._evictor.discard_if_unused(old.sha256)
        self._policy.admit(entry.path, entry.size)
        self._evictor.schedule()
        return str(blob)

    # -- what clients receive ------------------------------------------------------------------
    def _reader(self, fill: Fill) -> StreamDelivery:
        self._counters.misses += 1
        counters = self._counters

        async def body() -> AsyncGenerator[bytes, None]:
            async with fill.reading() as reader:
                async for chunk in reader.chunks():
                    counters.miss_bytes += len(chunk)
                    yield chunk

        async def spans() -> AsyncGenerator[FileSpan, None]:
            async with fill.reading() as reader:
                with reader.file() as file:
                    async for offset, count in reader.spans():
                        counters.miss_bytes += count
                        yield FileSpan(file, offset, count)

        stream = body()
        return StreamDelivery(
            200, dict(fill.headers), stream, "miss", stream.aclose, fill, zero_copy=spans
        )

    def _stream(self, response: httpx.Response, resources: AsyncExitStack) -> StreamDelivery:
        """The NAS's answer passed on as it is; the NAS connection closes with it."""
        self._counters.passes += 1
        counters = self._counters

        async def body() -> AsyncGenerator[bytes, None]:
            async for chunk in response.aiter_raw():
                counters.pass_bytes += len(chunk)
                yield chunk

        stream = body()

        async def close() -> None:
            await stream.aclose()
            await resources.aclose()

        return StreamDelivery(response.status_code, kept_headers(response), stream, "pass", close)
