"""The latest reading of every plug, in memory: what ``/api/energy/current`` answers from.

Kept apart from the database's write path on purpose. An earlier BaluPi read "current" power out
of its write buffer and showed every plug at 0 W, offline, for up to 30 s after each flush. Here a
plug's last good reading stays until a newer one replaces it; when a poll fails the reading is
kept and the plug is marked (``online``, ``state``, ``error``), so a reader can tell stale from
fresh by ``reading.at`` and never sees a blank.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from balupi.db.models.energy import DeviceRole
from balupi.services.tapo.client import PlugReading


class PlugState(enum.StrEnum):
    PENDING = "pending"  # not asked yet since BaluPi started
    OK = "ok"  # the last poll answered
    UNREACHABLE = "unreachable"  # the last poll got no (usable) answer
    AUTH_FAILED = "auth_failed"  # the plug refused the Tapo account


@dataclass(frozen=True)
class LivePlug:
    """One plug as of its last poll. ``reading`` is the latest *successful* one (or None)."""

    device_id: int
    name: str
    role: DeviceRole
    online: bool
    state: PlugState
    reading: PlugReading | None
    error: str | None = None
    checked_at: datetime | None = None

    @property
    def counts_now(self) -> bool:
        """Whether this plug's power belongs in the current total (online, with a meter)."""
        return self.online and self.reading is not None and self.reading.power_mw is not None


class LiveReadings:
    """The latest ``LivePlug`` per device id; written by the poller, read by routes."""

    def __init__(self) -> None:
        self._plugs: dict[int, LivePlug] = {}

    def put(self, plug: LivePlug) -> None:
        self._plugs[plug.device_id] = plug

    def drop(self, device_id: int) -> None:
        self._plugs.pop(device_id, None)

    def get(self, device_id: int) -> LivePlug | None:
        return self._plugs.get(device_id)

    def plugs(self) -> list[LivePlug]:
        return [self._plugs[key] for key in sorted(self._plugs)]

    def total_power_mw(self) -> int:
        """Sum of the plugs that count now; a plug gone offline no longer adds its last watts."""
        return sum(
            plug.reading.power_mw or 0
            for plug in self._plugs.values()
            if plug.counts_now and plug.reading is not None
        )
