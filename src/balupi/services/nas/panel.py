"""What ``/api/nas/*`` serves: the link's state, its history, and Wake-on-LAN on request.

A view over the container's link, waker and request gate, so that the routes call one method
each and hold no decisions of their own (who may wake which machine, which MAC is the NAS's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from balupi.clock import Clock
from balupi.errors import PermissionDenied
from balupi.services.auth import AuthenticatedUser
from balupi.services.nas.gate import RequestGate
from balupi.services.nas.history import HistoryWindow
from balupi.services.nas.link import NasLink
from balupi.services.nas.status import nas_status
from balupi.services.nas.wake import NasWaker, WakeResult

OTHER_MAC_ADMIN_ONLY = "Only an administrator can send Wake-on-LAN to another device."


@dataclass(frozen=True)
class WakeOutcome:
    result: WakeResult
    mac: str | None  # the MAC the packet went to (None: no NAS MAC configured)


@dataclass(frozen=True)
class NasPanel:
    link: NasLink
    waker: NasWaker
    clock: Clock
    zone: ZoneInfo
    gate: RequestGate | None

    async def status(self) -> dict[str, Any]:
        return await nas_status(self.link, self.clock, self.zone, self.gate)

    def now(self) -> datetime:
        return self.clock.now()

    async def history(self, start: datetime, end: datetime) -> HistoryWindow:
        return await self.link.history.window(start, end)

    async def wake(self, mac: str | None, user: AuthenticatedUser) -> WakeOutcome:
        """Wake the NAS (any user), or another machine by its MAC (administrators only).

        Only the configured NAS's MAC counts as the NAS's wake; a packet to any other MAC
        changes nothing in what the Pi believes about the NAS.
        """
        nas_mac = self.link.mac
        target = mac or nas_mac
        if target is None or target == nas_mac:
            return WakeOutcome(await self.waker.wake("requested through the API"), target)
        if not user.is_admin:
            raise PermissionDenied(OTHER_MAC_ADMIN_ONLY)
        reason = f"requested through the API by {user.username}"
        return WakeOutcome(self.waker.wake_other(target, reason), target)
