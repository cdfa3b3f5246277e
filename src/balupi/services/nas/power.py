"""How much power the NAS draws, read as what it is doing: off, standby, idle or active.

The thresholds are contiguous ranges, so every reading falls in exactly one class (an earlier
BaluPi left a 15–30 W dead band in which the NAS was nothing at all).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PowerClass(enum.StrEnum):
    OFF = "off"  # no power, or the plug's own draw: the machine is off
    STANDBY = "standby"  # suspended (RAM powered): asleep
    IDLE = "idle"  # running, disks may be spun down
    ACTIVE = "active"  # running and working

    @property
    def is_running(self) -> bool:
        return self in (PowerClass.IDLE, PowerClass.ACTIVE)


@dataclass(frozen=True)
class PowerThresholds:
    """Upper bounds (exclusive) in watts: ``[0, off) off, [off, standby) standby, …``."""

    off_below_w: float = 1.5
    standby_below_w: float = 15.0
    idle_below_w: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.off_below_w < self.standby_below_w < self.idle_below_w:
            raise ValueError("power thresholds must rise: 0 < off < standby < idle")

    def classify(self, watts: float) -> PowerClass:
        if watts < self.off_below_w:
            return PowerClass.OFF
        if watts < self.standby_below_w:
            return PowerClass.STANDBY
        if watts < self.idle_below_w:
            return PowerClass.IDLE
        return PowerClass.ACTIVE
