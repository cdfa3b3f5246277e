"""The emulated machine's power states and the watts it draws in each.

The model only decides *which* state the machine is in; ``server.NasEmulator`` does what each state
means (closing or opening the API socket, timing the boot). Machine transitions are explicit calls;
``idle`` versus ``busy`` is read off the request activity at the moment someone asks, because that
is what a smart plug in front of a real NAS would measure.

    off ──restore_power──► booting ──boot_complete──► idle ⇄ busy
     ▲  ◄──cut_power (any)──┘                          │  ▲
     │                                            sleep │  │ wake
     └──────shut_down───────── idle/busy      asleep ◄──┘  │
                                                  └─────────┘

``soft_sleep`` is BaluHost's soft sleep: the machine runs and answers HTTP with its disks spun
down. Like ``busy`` it is never stored but read off the sleep service (the ``dozing`` hook), and it
wins over ``busy``: a status poll answered from RAM does not spin the disks up.

``off`` has a reason: after ``shut_down`` the board keeps standby power and Wake-on-LAN (or the
power button, ``wake``) boots it; after ``cut_power`` only ``restore_power`` does, as with a BIOS
set to "power on after AC loss".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol


class PowerState(StrEnum):
    OFF = "off"
    ASLEEP = "asleep"  # suspended to RAM: state kept, API socket closed
    BOOTING = "booting"
    IDLE = "idle"
    BUSY = "busy"  # a request in flight or served within the last ``busy_seconds``
    SOFT_SLEEP = "soft_sleep"  # up, disks spun down, CPU held idle (BaluHost's soft sleep)


class OffReason(StrEnum):
    SHUTDOWN = "shutdown"  # standby power: Wake-on-LAN works
    POWER_CUT = "power_cut"  # the plug is off: nothing works until power returns


DRAW_WATTS: Mapping[PowerState, float] = MappingProxyType(
    {
        PowerState.OFF: 0.5,
        PowerState.ASLEEP: 3.0,
        PowerState.BOOTING: 60.0,
        PowerState.IDLE: 40.0,
        PowerState.BUSY: 85.0,
        PowerState.SOFT_SLEEP: 20.0,
    }
)


class RequestActivity(Protocol):
    """What the model needs to tell idle from busy (``EmulatedNas`` provides it)."""

    @property
    def requests_in_flight(self) -> int: ...

    @property
    def last_request_at(self) -> float | None: ...


class PowerTransitionError(Exception):
    """The machine cannot make that transition from the state it is in."""


@dataclass(frozen=True)
class PowerReading:
    state: PowerState
    since: float  # clock time of the last machine transition
    power_w: float
    off_reason: OffReason | None


PowerListener = Callable[[PowerReading], None]


class PowerModel:
    """A thread-safe state machine of one emulated machine, with an injectable clock."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        activity: RequestActivity | None = None,
        busy_seconds: float = 3.0,
        start_asleep: bool = False,
        dozing: Callable[[], bool] | None = None,
    ) -> None:
        self._clock = clock
        self.activity = activity  # what busy is read off; a bench may put its own in
        self._dozing = dozing
        self._busy_seconds = busy_seconds
        self._lock = threading.Lock()
        self._listeners: list[PowerListener] = []
        # IDLE stands for "up"; BUSY and SOFT_SLEEP are never stored, only derived in ``state``.
        self._phase = PowerState.ASLEEP if start_asleep else PowerState.IDLE
        self._since = clock()
        self._off_reason: OffReason | None = None
        self._cold_boot = False

    # -- reading ------------------------------------------------------------------------------
    @property
    def state(self) -> PowerState:
        return self.reading().state

    @property
    def power_w(self) -> float:
        return self.reading().power_w

    @property
    def cold_boot(self) -> bool:
        """Whether the current (or last) boot started from off, i.e. the backend process starts."""
        return self._cold_boot

    def reading(self) -> PowerReading:
        with self._lock:
            return self._reading_locked()

    def _reading_locked(self) -> PowerReading:
        state = self._phase
        if state is PowerState.IDLE:
            if self._dozing is not None and self._dozing():
                state = PowerState.SOFT_SLEEP
            elif self._is_busy():
                state = PowerState.BUSY
        return PowerReading(state, self._since, DRAW_WATTS[state], self._off_reason)

    def _is_busy(self) -> bool:
        if self.activity is None:
            return False
        if self.activity.requests_in_flight > 0:
            return True
        last = self.activity.last_request_at
        # Work done before the machine last came up (e.g. before a suspend) does not count.
        return (
            last is not None and last >= self._since and self._clock() - last < self._busy_seconds
        )

    def add_listener(self, listener: PowerListener) -> Callable[[], None]:
        """Call ``listener`` after every machine transition; returns a function that removes it."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    # -- transitions --------------------------------------------------------------------------
    def sleep(self) -> bool:
        """Suspend an up machine; False if it already sleeps."""
        with self._lock:
            if self._phase is PowerState.ASLEEP:
                return False
            self._require({PowerState.IDLE}, PowerState.ASLEEP)
            announce = self._enter(PowerState.ASLEEP)
        announce()
        return True

    def wake(self) -> bool:
        """Start booting from sleep or soft-off (WoL, power button); False if already up or booting.

        Raises PowerTransitionError when the power is cut.
        """
        with self._lock:
            if self._off_reason is OffReason.POWER_CUT:
                raise PowerTransitionError("the power is cut; restore it first")
            if self._phase in (PowerState.BOOTING, PowerState.IDLE):
                return False
            self._cold_boot = self._phase is PowerState.OFF
            announce = self._enter(PowerState.BOOTING)
        announce()
        return True

    def boot_complete(self) -> bool:
        """The boot has finished and the API is listening."""
        with self._lock:
            self._require({PowerState.BOOTING}, PowerState.IDLE)
            announce = self._enter(PowerState.IDLE)
        announce()
        return True

    def shut_down(self) -> bool:
        """A graceful shutdown of an up machine; standby power stays, so WoL can boot it."""
        with self._lock:
            if self._phase is PowerState.OFF:
                return False
            self._require({PowerState.IDLE}, PowerState.OFF)
            announce = self._enter(PowerState.OFF, OffReason.SHUTDOWN)
        announce()
        return True

    def cut_power(self) -> bool:
        """The plug is switched off: whatever the machine was doing, it is off."""
        with self._lock:
            if self._off_reason is OffReason.POWER_CUT:
                return False
            announce = self._enter(PowerState.OFF, OffReason.POWER_CUT)
        announce()
        return True

    def restore_power(self) -> bool:
        """The plug is switched on again: a cut machine boots; any other is unaffected."""
        with self._lock:
            if self._off_reason is not OffReason.POWER_CUT:
                return False
            self._cold_boot = True
            announce = self._enter(PowerState.BOOTING)
        announce()
        return True

    def _require(self, allowed_from: set[PowerState], to: PowerState) -> None:
        if self._phase not in allowed_from:
            raise PowerTransitionError(f"cannot go from {self._phase} to {to}")

    def _enter(self, phase: PowerState, off_reason: OffReason | None = None) -> Callable[[], None]:
        """Switch phase (lock held); returns the call that tells the listeners, made unlocked."""
        self._phase = phase
        self._since = self._clock()
        self._off_reason = off_reason
        reading = self._reading_locked()
        listeners = list(self._listeners)

        def announce() -> None:
            for listener in listeners:
                listener(reading)

        return announce

    def __repr__(self) -> str:
        reading = self.reading()
        return f"<PowerModel {reading.state} {reading.power_w} W since {reading.since:.3f}>"
