"""The emulated plug itself: a relay, a load behind it and counters that integrate its power.

Time only moves when the injected clock says so. Every read and every switch first books the
energy used since the previous one (``advance``), so the counters are the exact integral of the
source's power over the time the relay was closed, however seldom anyone asks.
"""

from __future__ import annotations

import logging
from datetime import datetime

from balupi.clock import Clock
from balupi.sim.plug.counters import EnergyLedger, Usage
from balupi.sim.plug.power import PowerSource

log = logging.getLogger(__name__)


class PlugDevice:
    def __init__(
        self,
        source: PowerSource,
        *,
        ledger: EnergyLedger,
        clock: Clock,
        voltage_v: float = 230.0,
        on: bool = True,
    ) -> None:
        if voltage_v <= 0:
            raise ValueError("mains voltage must be positive")
        self.source = source
        self.ledger = ledger
        self.clock = clock
        self.voltage_v = voltage_v
        self._on = on
        self._booked_until = clock.now()
        self._on_since: datetime | None = self._booked_until if on else None

    @property
    def is_on(self) -> bool:
        return self._on

    def advance(self) -> datetime:
        """Book the energy used up to now; returns now."""
        now = self.clock.now()
        if now > self._booked_until:
            self.ledger.record(self._booked_until, now, self.source.energy_wh if self._on else None)
            self._booked_until = now
        return now

    @property
    def power_w(self) -> float:
        """What the plug measures now: the load's draw, or 0 with the relay open."""
        return self.source.watts(self.clock.now()) if self._on else 0.0

    @property
    def current_a(self) -> float:
        """The load current at the configured mains voltage (power factor 1)."""
        return self.power_w / self.voltage_v

    @property
    def on_seconds(self) -> int:
        """Seconds since the relay closed (``on_time`` in the device info), 0 when off."""
        if self._on_since is None:
            return 0
        return max(0, int((self.clock.now() - self._on_since).total_seconds()))

    def today(self) -> Usage:
        return self.ledger.today(self.advance())

    def this_month(self) -> Usage:
        return self.ledger.this_month(self.advance())

    def past_days(self, days: int) -> Usage:
        return self.ledger.past_days(self.advance(), days)

    async def refresh(self) -> None:
        """Take a new reading from sources that must be asked (the NAS), after booking the old."""
        if self._on:
            self.advance()
            await self.source.refresh()

    async def set_on(self, on: bool) -> None:
        """Switch the relay; the source hears of real changes only (a NAS loses power)."""
        if on == self._on:
            return
        now = self.advance()
        self._on = on
        self._on_since = now if on else None
        log.info("plug switched %s", "on" if on else "off")
        await self.source.switched(on)
        if on:
            await self.source.refresh()
