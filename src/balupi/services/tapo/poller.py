"""Polling the plugs: one coordinator per plug, all of them asked at once, every interval.

``PlugCoordinator`` owns one plug's connection and what is known about it (``data``, the latest
good reading; ``last_update_success``; ``last_error``; ``online``). Its ``refresh`` is bounded by
one per-plug timeout covering connect and read, so a plug that is off the network, or that
accepts a connection and never answers, costs its own slot and nobody else's. A failure drops the
connection (python-kasa's session closed, not leaked) and the next attempt reconnects with the
cached parameters. After ``failures_before_offline`` failures in a row the plug is offline and is
tried again only every ``error_interval_s``; the first success brings it back. Transitions are
logged once, not on every poll.

``PlugPoller`` owns the cadence (the app's scheduler has only calendar jobs): a round asks each due
coordinator concurrently, waits for all of them (at most one timeout), and hands the results to
its sink in one call, which is how a round becomes one database transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from balupi.clock import Clock
from balupi.errors import PlugAuthFailed, PlugError, PlugRefused
from balupi.lifecycle import Lifecycle
from balupi.logs import get_logger
from balupi.services.tapo.client import (
    PlugConnection,
    PlugConnector,
    PlugReading,
    load_kasa,
    within,
)
from balupi.services.tapo.devices import PlugRecord, PlugStatus
from balupi.services.tapo.live import LivePlug, PlugState

log = get_logger(__name__)

_T = TypeVar("_T")

MAX_TIMEOUT_S = 10.0
MAX_ERROR_INTERVAL_S = 600.0


@dataclass(frozen=True)
class PollTiming:
    """How often plugs are asked and how long one may take."""

    interval_s: float = 30.0
    timeout_s: float = 10.0  # per plug and round: connect (if needed) and read
    failures_before_offline: int = 3
    error_interval_s: float = 120.0  # between attempts at an offline plug

    @classmethod
    def for_interval(cls, interval_s: float) -> PollTiming:
        """Timings for polling every ``interval_s``: a timeout well inside one interval."""
        return cls(
            interval_s=interval_s,
            timeout_s=min(MAX_TIMEOUT_S, interval_s / 3),
            error_interval_s=min(MAX_ERROR_INTERVAL_S, 4 * interval_s),
        )


@dataclass(frozen=True)
class PollResult:
    """One attempt at one plug: a reading, or the error that stopped it."""

    device_id: int
    reading: PlugReading | None
    error: PlugError | None = None
    connection_params: dict[str, Any] | None = None  # newly negotiated: to be cached


class PlugCoordinator:
    """One plug: its connection, its latest reading, and whether it answers."""

    def __init__(
        self,
        record: PlugRecord,
        connector: PlugConnector,
        clock: Clock,
        timing: PollTiming,
        *,
        connection: PlugConnection | None = None,
    ) -> None:
        self.record = record
        self._connector = connector
        self._clock = clock
        self._timing = timing
        self._connection = connection
        self._lock = asyncio.Lock()  # one conversation with the plug at a time
        self.data: PlugReading | None = None
        self.last_update_success: bool | None = None  # None: not asked yet
        self.last_error: PlugError | None = None
        self.online = record.status.is_online
        self.failures = record.status.consecutive_failures
        self.last_seen_at = record.status.last_seen_at
        self.checked_at: datetime | None = None
        self.persisted = record.status  # what the database holds, to write changes only
        self._retry_at = 0.0
        self._new_params: dict[str, Any] | None = None  # negotiated, not yet stored

    @property
    def device_id(self) -> int:
        return self.record.id

    def due(self) -> bool:
        """Online plugs every round; offline ones every ``error_interval_s``."""
        return (
            self.online
            or self.last_update_success is None
            or self._clock.monotonic() >= self._retry_at
        )

    def status(self) -> PlugStatus:
        return PlugStatus(
            self.online,
            self.failures,
            self.last_seen_at,
            str(self.last_error) if self.last_error else None,
        )

    def snapshot(self) -> LivePlug:
        if self.last_update_success is None:
            state = PlugState.PENDING
        elif self.last_update_success:
            state = PlugState.OK
        elif isinstance(self.last_error, PlugAuthFailed):
            state = PlugState.AUTH_FAILED
        else:
            state = PlugState.UNREACHABLE
        return LivePlug(
            device_id=self.device_id,
            name=self.record.name,
            role=self.record.role,
            online=self.online,
            state=state,
            reading=self.data,
            error=str(self.last_error) if self.last_error else None,
            checked_at=self.checked_at,
        )

    # -- talking to the plug --------------------------------------------------------------------
    async def refresh(self) -> PollResult | None:
        """Read the plug once; None if it is busy (being switched or re-added) right now."""
        if self._lock.locked():
            return None
        async with self._lock:
            try:
                reading = await self._attempt(self._read, self._timing.timeout_s)
            except PlugError as exc:
                return await self._failed(exc)
            return self._succeeded(reading)

    async def switch(self, choose: Callable[[bool], bool]) -> PollResult:
        """Switch the relay to ``choose(is_on_now)``; returns the reading after it.

        ``choose`` may raise ``PlugRefused`` (the NAS rule). Other errors reach the caller too; a
        plug that fails here has its connection dropped but is not counted as failing (polls
        decide that).
        """

        async def switch_and_read() -> PlugReading:
            connection, fresh = await self._connected()
            if not fresh:
                await connection.update()
            is_on = connection.reading(self._clock.now()).is_on
            target = choose(is_on)
            if target != is_on:
                await connection.switch(target)
                log.info("plug switched", plug=self.record.name, on=target)
            return await connection.read(self._clock.now())

        async with self._lock:
            try:
                reading = await self._attempt(switch_and_read, 2 * self._timing.timeout_s)
            except PlugRefused:
                raise
            except PlugError:
                await self._drop()
                raise
            return self._succeeded(reading)

    async def adopt(self, record: PlugRecord, connection: PlugConnection) -> PollResult:
        """Take over a new connection (the plug was re-added or rediscovered), first reading."""
        async with self._lock:
            old, self._connection = self._connection, connection
            if old is not None and old is not connection:
                await old.close()
            self.record = record
            self.persisted = record.status
            self._new_params = None
            self.checked_at = self._clock.now()
            return self._succeeded(connection.reading(self.checked_at))

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    # -- internals ------------------------------------------------------------------------------
    async def _attempt(self, work: Callable[[], Awaitable[_T]], timeout_s: float) -> _T:
        self.checked_at = self._clock.now()
        return await within(timeout_s, self.record.address, work())

    async def _read(self) -> PlugReading:
        connection, fresh = await self._connected()
        at = self._clock.now()
        return connection.reading(at) if fresh else await connection.read(at)

    async def _connected(self) -> tuple[PlugConnection, bool]:
        """The open connection, or a new one (True: it has just been read)."""
        if self._connection is not None:
            return self._connection, False
        cached = self.record.connection_params
        connection = await self._connector.connect(self.record.address, cached)
        self._connection = connection
        if connection.connection_params != cached:
            self._new_params = connection.connection_params
        return connection, True

    def _take_new_params(self) -> dict[str, Any] | None:
        params, self._new_params = self._new_params, None
        if params is not None:
            self.record = replace(self.record, connection_params=params)
        return params

    def _succeeded(self, reading: PlugReading) -> PollResult:
        if self.last_update_success is False or not self.online:
            log.info("plug answers again", plug=self.record.name, failures=self.failures)
        self.data = reading
        self.last_update_success = True
        self.last_error = None
        self.online = True
        self.failures = 0
        self.last_seen_at = reading.at
        return PollResult(self.device_id, reading, connection_params=self._take_new_params())

    async def _failed(self, error: PlugError) -> PollResult:
        await self._drop()
        previous = self.last_error
        self.last_update_success = False
        self.last_error = error
        self.failures += 1
        if type(previous) is not type(error):  # each kind of failure is logged once
            log.warning("plug poll failed", plug=self.record.name, error=str(error))
        if self.online and self.failures >= self._timing.failures_before_offline:
            self.online = False
            log.warning("plug offline", plug=self.record.name, failures=self.failures)
        if not self.online:
            self._retry_at = self._clock.monotonic() + self._timing.error_interval_s
        return PollResult(self.device_id, None, error, self._take_new_params())

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


Sink = Callable[[list[PollResult]], Awaitable[None]]


class PlugPoller(Lifecycle):
    """Every ``interval_s``, refresh every due coordinator at once and pass the results on."""

    def __init__(self, timing: PollTiming, sink: Sink, clock: Clock) -> None:
        self.timing = timing
        self._sink = sink
        self._clock = clock
        self._coordinators: dict[int, PlugCoordinator] = {}

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._coordinators

    def __iter__(self) -> Iterator[PlugCoordinator]:
        return iter(list(self._coordinators.values()))

    def get(self, device_id: int) -> PlugCoordinator | None:
        return self._coordinators.get(device_id)

    def add(self, coordinator: PlugCoordinator) -> None:
        self._coordinators[coordinator.device_id] = coordinator

    def pop(self, device_id: int) -> PlugCoordinator | None:
        return self._coordinators.pop(device_id, None)

    async def poll_round(self) -> list[PollResult]:
        """Ask every due plug concurrently; returns (and sinks) the results of those asked."""
        due = [coordinator for coordinator in self if coordinator.due()]
        outcomes = await asyncio.gather(
            *(coordinator.refresh() for coordinator in due), return_exceptions=True
        )
        results: list[PollResult] = []
        for coordinator, outcome in zip(due, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if isinstance(outcome, asyncio.CancelledError):
                    raise outcome
                log.error("plug poll crashed", plug=coordinator.record.name, error=repr(outcome))
            elif outcome is not None:
                results.append(outcome)
        await self._sink(results)
        return results

    async def _open(self) -> None:
        self._spawn(self._run(), name="plug-poller")

    async def close_connections(self) -> None:
        """Close every plug's connection (also those of a poller that never polled)."""
        for coordinator in self:
            await coordinator.close()

    async def _run(self) -> None:
        if self._coordinators:
            # python-kasa (~0.25 s, ~11 MB) is imported in a thread before the first round, not
            # by start-up: the app answers /api/health meanwhile. Plugs added later load it too.
            await load_kasa()
        next_round = self._clock.monotonic()
        while True:
            try:
                await self.poll_round()
            except Exception:  # the loop must survive a failed write or a bug in one round
                log.exception("plug poll round failed")
            next_round += self.timing.interval_s
            # A round that overran skips the missed slots instead of running back to back.
            while next_round < self._clock.monotonic():
                next_round += self.timing.interval_s
            await self._clock.sleep(next_round - self._clock.monotonic())
