"""``NasLink``: the one owner of what the Pi believes the NAS is doing.

States: ``unknown``, ``online``, ``sleeping``, ``offline``, ``waking``, ``shutting_down``.
Evidence comes in through ``report_*`` methods (health checks, the NAS plug's power, lifecycle
notices, mDNS presence, a wake the Pi started); each may cause a transition. Transitions happen
under one lock, are stored with their evidence, and only accepted ones notify listeners.

The link probes the NAS only while it believes it is up (``online``, ``unknown`` at start) or
booting (``waking``), at most every ``health_interval`` (30 s: BaluPi knows within a minute that
the NAS fell asleep, and two probes a minute stay under BaluHost's 5-a-minute idle threshold).
While the NAS sleeps, is off or shuts down it sends **no request at all**, at start-up too (the
stored state is restored first): a request wakes a soft-sleeping NAS and keeps its disks
spinning. It waits for evidence to be pushed in.

What a probe asks. With the NAS's signing key (``NAS_JWT_SECRET``) the link asks
``GET /api/system/sleep/status`` (``SleepProbe``), which BaluHost answers in soft sleep without
waking: ``soft_sleep`` and the suspend states are ``sleeping`` with BaluHost's own state and
``state_since`` as evidence; ``awake`` is ``online``. ``/api/health`` is then never sent by the
link, as it is not on BaluHost's auto-wake whitelist. Without the key the link can only ask
``/api/health``, and does so only while it believes the NAS awake or booting; it learns of sleep
from the plug's power, lifecycle notices and mDNS (a soft sleep whose draw the plug thresholds
class as idle stays unseen: configure the key).

Failures while online are retried with exponential backoff before the NAS is declared down; a
wake that does not finish within the boot timeout ends in ``offline``.

Decision table for a reading of the NAS plug (``PowerClass``):

    off      → offline (from any state)
    standby  → sleeping (from online, unknown, offline: a NAS drawing standby power is
               suspended, not off; a waking NAS keeps waking until its timeout)
    idle/act → waking   (from sleeping, offline, unknown: it runs, so it can be asked), except
               idle while its sleep status said soft sleep (which draws as much as idle) and no
               standby reading (a suspend) came since

Size: one state machine. Every ``report_*``, the probe loop and ``_transition`` decide under one
lock from the same snapshot, by the decision table above; split across modules, the table's rows
would be read in pieces. The probe's request (``probe.py``), the stored history (``history.py``) and
the power classes (``power.py``) already live apart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from balupi.clock import Clock, wait_or_sleep
from balupi.db.models import NasState
from balupi.errors import NasUnreachable
from balupi.lifecycle import Lifecycle
from balupi.logs import get_logger
from balupi.services.nas.client import NasClient
from balupi.services.nas.gate import Purpose, nas_purpose
from balupi.services.nas.history import LinkHistory
from balupi.services.nas.power import PowerClass, PowerThresholds
from balupi.services.nas.probe import HTTP_UP_ASLEEP, SleepProbe, SleepReading

log = get_logger(__name__)

Listener = Callable[["LinkSnapshot", "LinkSnapshot"], Awaitable[None] | None]

POLLING_STATES = frozenset({NasState.ONLINE, NasState.UNKNOWN, NasState.WAKING})


@dataclass(frozen=True)
class LinkTiming:
    """How often and how patiently the link checks the NAS."""

    health_interval: float = 30.0  # between checks while online (≤ 60 s: sleep seen in a minute)
    waking_interval: float = 1.0  # between checks while the NAS boots
    first_retry: float = 2.0  # backoff after a failed check while online: 2, 4, 8 … s
    max_retry: float = 60.0
    failures_before_down: int = 3
    boot_timeout: float = 180.0  # waking → offline after this long without an answer
    shutdown_grace: float = 60.0  # shutting_down → offline after this long


@dataclass(frozen=True)
class LinkSnapshot:
    state: NasState
    since: datetime | None
    evidence: str
    last_seen_at: datetime | None = None
    power_w: float | None = None
    power_class: PowerClass | None = None
    nas_version: str | None = None
    nas_sleep_state: str | None = None  # BaluHost's own state, as its sleep status said
    nas_sleep_since: str | None = None  # and since when (the NAS's timestamp)

    @property
    def is_online(self) -> bool:
        return self.state is NasState.ONLINE

    @property
    def soft_asleep(self) -> bool:
        """Asleep with its HTTP up: any request off the whitelist wakes it at once."""
        return self.state is NasState.SLEEPING and self.nas_sleep_state in HTTP_UP_ASLEEP


class NasLink(Lifecycle):
    """Tracks the NAS's state from evidence; polls it only while it is up or booting."""

    def __init__(
        self,
        client: NasClient | None,
        history: LinkHistory,
        clock: Clock,
        *,
        mac: str | None = None,
        timing: LinkTiming | None = None,
        thresholds: PowerThresholds | None = None,
        probe: SleepProbe | None = None,
    ) -> None:
        self._client = client
        self._probe = probe
        self._history = history
        self._clock = clock
        self._mac = mac
        self.timing = timing or LinkTiming()
        self.thresholds = thresholds or PowerThresholds()
        self._snapshot = LinkSnapshot(NasState.UNKNOWN, None, "not started")
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()  # wakes the health loop when the state changes
        self._online = asyncio.Event()
        self._listeners: list[Listener] = []
        self._failures = 0
        self._check_now = False
        self._entered_monotonic = clock.monotonic()

    # -- reading ------------------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        """Whether a NAS URL is configured at all."""
        return self._client is not None

    @property
    def client(self) -> NasClient:
        if self._client is None:
            raise NasUnreachable("no NAS is configured (BALUPI_NAS_URL)", retry_after=3600)
        return self._client

    @property
    def state(self) -> NasState:
        return self._snapshot.state

    @property
    def snapshot(self) -> LinkSnapshot:
        return self._snapshot

    @property
    def history(self) -> LinkHistory:
        return self._history

    @property
    def mac(self) -> str | None:
        return self._mac

    @property
    def asks_sleep_state(self) -> bool:
        """Whether probes read the NAS's sleep state (the NAS's signing key is known)."""
        return self._probe is not None

    def seconds_in_state(self) -> float:
        return self._clock.monotonic() - self._entered_monotonic

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(old, new)`` after every accepted transition; returns a remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def wait_online(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the NAS to be online; True if it is."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._online.wait()
        return self.state is NasState.ONLINE

    # -- lifecycle ----------------------------------------------------------------------------
    async def _open(self) -> None:
        """Restore the stored state and start the health loop (which polls only when allowed)."""
        base_url = self._client.base_url if self._client else ""
        stored = await self._history.load(base_url, self._mac)
        self._snapshot = LinkSnapshot(
            stored.state,
            stored.since,
            "restored at start-up",
            last_seen_at=stored.last_seen_at,
        )
        if stored.state is NasState.SHUTTING_DOWN:
            # The Pi restarted during a shutdown grace window; the NAS is gone by now.
            await self._transition(NasState.OFFLINE, "shutdown grace over (restart)")
        elif stored.state is NasState.WAKING:
            await self._transition(NasState.UNKNOWN, "wake interrupted by a restart")
        self._sync_events()
        if self._client is not None:
            self._spawn(self._run(), name="nas-link")

    # -- evidence -----------------------------------------------------------------------------
    async def report_power(self, watts: float) -> None:
        """A reading of the NAS plug (fed by the energy service, or by tests)."""
        power_class = self.thresholds.classify(watts)
        self._snapshot = replace(self._snapshot, power_w=watts, power_class=power_class)
        if power_class is PowerClass.STANDBY and self._snapshot.soft_asleep:
            # It went on from soft sleep into suspend: its next "idle" reading is a resume.
            self._snapshot = replace(self._snapshot, nas_sleep_state=None, nas_sleep_since=None)
        evidence = f"plug {watts:.1f} W ({power_class})"
        state = self.state
        if power_class is PowerClass.OFF and state is not NasState.OFFLINE:
            await self._transition(NasState.OFFLINE, evidence)
        elif power_class is PowerClass.STANDBY and state in (
            NasState.ONLINE,
            NasState.UNKNOWN,
            NasState.OFFLINE,
        ):
            await self._transition(NasState.SLEEPING, evidence)
        elif power_class is PowerClass.IDLE and self._snapshot.soft_asleep:
            return  # a soft-sleeping NAS draws what an idle one does: no news
        elif power_class.is_running and state in (
            NasState.SLEEPING,
            NasState.OFFLINE,
            NasState.UNKNOWN,
        ):
            await self._transition(NasState.WAKING, evidence)

    async def report_coming_online(self, evidence: str = "lifecycle notice: coming online") -> None:
        """The NAS said it is up (a signed notice): believed at once."""
        await self._transition(NasState.ONLINE, evidence)

    async def report_going_offline(self, evidence: str = "lifecycle notice: going offline") -> None:
        """The NAS said it shuts down: stop talking to it; offline after the grace window."""
        await self._transition(NasState.SHUTTING_DOWN, evidence)

    async def report_announced(self, base_url: str | None, evidence: str) -> None:
        """mDNS saw the NAS announce itself: it is up or booting, so the link asks it.

        Evidence of presence only. The Pi keeps talking to ``NAS_URL``: an announcement is
        unauthenticated, so following it could send logins (passwords) to whoever announced,
        and an announced port that does not answer would make a NAS that does look asleep.
        """
        configured = self._client.base_url if self._client is not None else None
        if base_url and configured and base_url != configured:
            log.info(
                "nas announced elsewhere; keeping NAS_URL", announced=base_url, nas_url=configured
            )
        if self.state in (NasState.SLEEPING, NasState.OFFLINE, NasState.UNKNOWN):
            await self._transition(NasState.WAKING, evidence)

    async def report_withdrawn(self, evidence: str = "mdns goodbye") -> None:
        """mDNS saw the NAS withdraw its service: it is going away."""
        if self.state in (NasState.ONLINE, NasState.UNKNOWN):
            await self._transition(NasState.SHUTTING_DOWN, evidence)

    async def report_wake_sent(self, evidence: str = "wake-on-lan sent") -> None:
        """The Pi sent a magic packet: expect the NAS to boot."""
        if self.state is not NasState.ONLINE:
            await self._transition(NasState.WAKING, evidence)

    async def wake_from_soft_sleep(self, reason: str) -> bool:
        """Wake a soft-sleeping NAS on purpose, for a user; True once it answered.

        Its HTTP is up, so Wake-on-LAN would do nothing; one request off BaluHost's whitelist
        wakes it before it is answered. ``GET /api/health`` is the cheapest such request (no
        token, a small answer), and the answer proves the NAS is up.
        """
        try:
            with nas_purpose(Purpose.WAKE):
                body = await self.client.health()
        except NasUnreachable as exc:
            log.info("nas did not answer the wake request", reason=str(exc))
            return False
        await self._answered(
            body, NasState.ONLINE, f"woken from soft sleep by GET /api/health ({reason})"
        )
        return True

    async def report_unreachable(self, evidence: str) -> None:
        """A request the Pi forwarded could not reach the NAS: check at once."""
        if self.state is NasState.ONLINE:
            log.info("nas request failed; checking", evidence=evidence)
            self._check_now = True
            self._changed.set()

    # -- the loop -----------------------------------------------------------------------------
    def _next_delay(self) -> float | None:
        """Seconds to the next health check, or None while checks are not allowed."""
        timing = self.timing
        state = self.state
        if state is NasState.WAKING:
            return timing.waking_interval
        if state is NasState.SHUTTING_DOWN:
            return max(timing.shutdown_grace - self.seconds_in_state(), 0.0)
        if state not in POLLING_STATES:
            return None
        if self._failures == 0:
            return 0.0 if state is NasState.UNKNOWN else timing.health_interval
        backoff: float = timing.first_retry * 2.0 ** (self._failures - 1)
        return min(backoff, timing.max_retry)

    async def _run(self) -> None:
        while True:
            self._changed.clear()
            if not self._check_now:
                delay = self._next_delay()
                if delay is None:
                    await self._changed.wait()
                    continue
                if delay > 0 and await wait_or_sleep(self._clock, self._changed, delay):
                    continue  # the state changed, or a check was asked for: recompute
            self._check_now = False
            try:
                await self._tick()
            except Exception:  # the loop must survive anything a check throws
                log.exception("nas link check failed unexpectedly")

    async def _tick(self) -> None:
        state = self.state
        if state is NasState.SHUTTING_DOWN:
            if self.seconds_in_state() >= self.timing.shutdown_grace:
                await self._transition(NasState.OFFLINE, "shutdown grace over")
            return
        if state not in POLLING_STATES:
            return
        try:
            if self._probe is not None:  # whitelisted: never wakes the NAS
                reading = await self._probe.read(self.client)
            else:  # wakes a soft-sleeping NAS: only sent while it is believed up
                with nas_purpose(Purpose.PROBE):
                    body = await self.client.health()
        except NasUnreachable as exc:
            await self._health_failed(str(exc))
        else:
            if self._probe is not None:
                await self._sleep_status(reading)
            else:
                await self._answered(body, NasState.ONLINE, "health check answered")

    async def _sleep_status(self, reading: SleepReading) -> None:
        self._snapshot = replace(
            self._snapshot,
            nas_sleep_state=reading.current_state,
            nas_sleep_since=reading.state_since,
        )
        await self._answered({}, reading.link_state, reading.evidence)

    async def _answered(self, body: dict[str, object], state: NasState, evidence: str) -> None:
        """The NAS answered a probe or a wake: it is in ``state`` (``body``: /api/health's)."""
        self._failures = 0
        version = body.get("version")
        self._snapshot = replace(
            self._snapshot,
            last_seen_at=self._clock.now(),
            nas_version=str(version) if version is not None else self._snapshot.nas_version,
        )
        if state is NasState.ONLINE and self._snapshot.nas_sleep_state in HTTP_UP_ASLEEP:
            self._snapshot = replace(self._snapshot, nas_sleep_state="awake", nas_sleep_since=None)
        if self.state is not state:
            await self._transition(state, evidence)
        elif state is NasState.ONLINE:
            await self._history.mark_seen(self._clock.now())

    async def _health_failed(self, reason: str) -> None:
        state = self.state
        if state is NasState.WAKING:
            if self.seconds_in_state() >= self.timing.boot_timeout:
                await self._transition(
                    NasState.OFFLINE, f"no answer within the boot timeout ({reason})"
                )
            return
        self._failures += 1
        if state is NasState.ONLINE and self._failures < self.timing.failures_before_down:
            log.info("nas health check failed", failures=self._failures, reason=reason)
            return
        await self._transition(self._down_state(), f"{reason} ({self._failures}x)")

    def _down_state(self) -> NasState:
        """Where an unanswering NAS is: asleep unless its plug says it is off or running."""
        power = self._snapshot.power_class
        if power is PowerClass.OFF or (power is not None and power.is_running):
            return NasState.OFFLINE
        return NasState.SLEEPING

    # -- transitions --------------------------------------------------------------------------
    async def _transition(self, to_state: NasState, evidence: str) -> bool:
        """Move to ``to_state`` under the lock; store it; notify listeners. False if unchanged."""
        async with self._lock:
            old = self._snapshot
            if old.state is to_state:
                return False
            now = self._clock.now()
            await self._history.record(now, old.state, to_state, evidence)
            self._snapshot = replace(
                old,
                state=to_state,
                since=now,
                evidence=evidence,
                last_seen_at=now if to_state is NasState.ONLINE else old.last_seen_at,
            )
            if to_state not in (NasState.ONLINE, NasState.SLEEPING):
                # Off, booting or going: what the NAS last said of its sleep no longer holds.
                self._snapshot = replace(self._snapshot, nas_sleep_state=None, nas_sleep_since=None)
            self._entered_monotonic = self._clock.monotonic()
            self._failures = 0
            self._sync_events()
            new = self._snapshot
        log.info("nas state", old=old.state.value, new=to_state.value, evidence=evidence)
        # What a change of state sets off (the warming burst, listing again) is work nobody
        # waits for: its requests, and those of the tasks it starts, never wake the NAS.
        with nas_purpose(Purpose.BACKGROUND):
            for listener in list(self._listeners):
                try:
                    result = listener(old, new)
                    if result is not None:
                        await result
                except Exception:
                    log.exception("nas link listener failed")
        return True

    def _sync_events(self) -> None:
        if self.state is NasState.ONLINE:
            self._online.set()
        else:
            self._online.clear()
        self._changed.set()
