"""What ``GET /api/nas/status`` reports: the link's state, its evidence, and today's split.

``sleep`` is what the NAS's own sleep service last said (``current_state``, ``state_since``),
so a soft sleep and a suspend both show as ``sleeping`` with BaluHost's word for which one;
``gate`` is what BaluPi sent the NAS, by purpose, and how much of it in the last minute.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from balupi.clock import Clock, utc_iso
from balupi.db.models import NasState
from balupi.services.nas.gate import RequestGate
from balupi.services.nas.history import time_by_state
from balupi.services.nas.link import NasLink


def _iso(moment: datetime | None) -> str | None:
    return utc_iso(moment) if moment else None


async def nas_status(
    link: NasLink, clock: Clock, zone: ZoneInfo, gate: RequestGate | None
) -> dict[str, Any]:
    """The NAS's state with its evidence, and awake / asleep seconds since local midnight."""
    snapshot = link.snapshot
    now = clock.now()
    midnight = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    totals = time_by_state(await link.history.transitions_since(midnight), midnight, now)
    return {
        "state": snapshot.state.value,
        "since": _iso(snapshot.since),
        "evidence": snapshot.evidence,
        "last_seen_at": _iso(snapshot.last_seen_at),
        "wake_in_progress": snapshot.state is NasState.WAKING,
        "configured": link.configured,
        "nas_url": link.client.base_url if link.configured else None,
        "nas_version": snapshot.nas_version,
        "power_w": snapshot.power_w,
        "power_class": snapshot.power_class.value if snapshot.power_class else None,
        "sleep": {
            "asked": link.asks_sleep_state,
            "current_state": snapshot.nas_sleep_state,
            "state_since": snapshot.nas_sleep_since,
        },
        "gate": gate.report() if gate is not None else None,
        "today": {
            "awake_seconds": int(totals["awake"].total_seconds()),
            "asleep_seconds": int(totals["asleep"].total_seconds()),
        },
    }
