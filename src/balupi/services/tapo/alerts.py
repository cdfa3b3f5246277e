"""Energy alerts: which causes hold after a poll, and when an alert is raised or cleared.

Each alert kind has one cause; the alert is raised when the cause appears (after a grace period
for the kinds that need one) and cleared when it is gone. After every poll round each plug's
causes are *found* (``Findings``): a kind maps to a message while its cause holds, to None once it
is gone, and is absent when the round could not tell (a plug that did not answer says nothing
about its power). ``AlertTracker`` turns findings into ``AlertChange``s, the only thing stored.

The NAS kinds compare the NAS plug's draw (classified by the plug's thresholds) with what
``NasLink`` believes:

* ``nas_power_while_asleep``: a running draw (idle/active) while the link does not have the NAS
  online. A booting NAS does that for a while, so it is raised only after it lasts
  ``nas_mismatch_after`` (a hung NAS, a broken network, a suspend that failed);
* ``nas_no_power_while_awake``: no draw at all while the link had the NAS online just before the
  reading (a power cut, or the wrong plug marked ``nas``). The reading itself moves the link to
  ``offline``, so this is judged against the state *before* it, and it stays until power returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from balupi.db.models import NasState
from balupi.db.models.energy import AlertKind
from balupi.services.nas.power import PowerClass
from balupi.services.tapo.client import PlugReading

Findings = dict[AlertKind, str | None]

NAS_KINDS = (AlertKind.NAS_POWER_WHILE_ASLEEP, AlertKind.NAS_NO_POWER_WHILE_AWAKE)
_NAS_UP = frozenset({NasState.ONLINE, NasState.SHUTTING_DOWN})


@dataclass(frozen=True)
class AlertRules:
    offline_after: timedelta = timedelta(minutes=10)
    voltage_min_mv: int = 207_000
    voltage_max_mv: int = 253_000
    nas_mismatch_after: timedelta = timedelta(minutes=10)

    def grace(self, kind: AlertKind) -> timedelta:
        """How long a cause must hold before its alert is raised."""
        if kind is AlertKind.NAS_POWER_WHILE_ASLEEP:
            return self.nas_mismatch_after
        return timedelta(0)  # the offline cause carries its own duration


@dataclass(frozen=True)
class AlertChange:
    """An alert raised (``message`` set) or cleared (``message`` None) at ``at``."""

    device_id: int
    kind: AlertKind
    at: datetime
    message: str | None

    @property
    def raised(self) -> bool:
        return self.message is not None


@dataclass(frozen=True)
class ActiveAlert:
    device_id: int
    kind: AlertKind
    message: str
    raised_at: datetime


def offline_findings(
    rules: AlertRules, *, online: bool, unseen_since: datetime, now: datetime
) -> Findings:
    """A plug offline for longer than ``offline_after``, counted from when it last answered."""
    if not online and now - unseen_since >= rules.offline_after:
        minutes = int((now - unseen_since).total_seconds() // 60)
        return {AlertKind.PLUG_OFFLINE: f"no answer for {minutes} min"}
    return {AlertKind.PLUG_OFFLINE: None}


def reading_findings(
    rules: AlertRules, reading: PlugReading, *, power_limit_mw: int | None
) -> Findings:
    """Power above the plug's limit and mains voltage outside the band, from a fresh reading."""
    findings: Findings = {}
    if reading.power_mw is not None:
        over = power_limit_mw is not None and reading.power_mw > power_limit_mw
        findings[AlertKind.POWER_OVER_LIMIT] = (
            f"{reading.power_mw / 1000:.1f} W is above the limit of {power_limit_mw / 1000:.1f} W"
            if over and power_limit_mw is not None
            else None
        )
    if reading.voltage_mv is not None:
        low, high = rules.voltage_min_mv / 1000, rules.voltage_max_mv / 1000
        volts = reading.voltage_mv / 1000
        findings[AlertKind.VOLTAGE_OUT_OF_RANGE] = (
            f"mains at {volts:.1f} V, outside {low:g}–{high:g} V"
            if not low <= volts <= high
            else None
        )
    return findings


def nas_findings(
    watts: float, power_class: PowerClass, *, before: NasState, after: NasState
) -> Findings:
    """The NAS plug's draw against the link's state (see the module docstring)."""
    findings: Findings = {
        AlertKind.NAS_POWER_WHILE_ASLEEP: (
            f"the NAS draws {watts:.1f} W ({power_class}) but is {after}"
            if power_class.is_running and after not in _NAS_UP
            else None
        )
    }
    if power_class is not PowerClass.OFF:
        findings[AlertKind.NAS_NO_POWER_WHILE_AWAKE] = None
    elif before is NasState.ONLINE:
        findings[AlertKind.NAS_NO_POWER_WHILE_AWAKE] = (
            f"the NAS plug reads {watts:.1f} W while the NAS was online"
        )
    return findings


def not_nas_findings() -> Findings:
    """For a plug that is not (or no longer) the NAS plug: the NAS kinds cannot hold."""
    return dict.fromkeys(NAS_KINDS)


class AlertTracker:
    """The active alerts and the causes still in their grace period, per (plug, kind)."""

    def __init__(self, rules: AlertRules, active: Iterable[ActiveAlert] = ()) -> None:
        self.rules = rules
        self._active = {(alert.device_id, alert.kind): alert for alert in active}
        self._pending: dict[tuple[int, AlertKind], datetime] = {}

    @property
    def active(self) -> list[ActiveAlert]:
        return sorted(self._active.values(), key=lambda alert: alert.raised_at)

    def update(self, device_id: int, findings: Findings, now: datetime) -> list[AlertChange]:
        """Apply one plug's findings; returns the alerts raised and cleared by them."""
        changes: list[AlertChange] = []
        for kind, message in findings.items():
            key = (device_id, kind)
            if message is None:
                self._pending.pop(key, None)
                if self._active.pop(key, None) is not None:
                    changes.append(AlertChange(device_id, kind, now, None))
                continue
            if key in self._active:
                continue
            since = self._pending.setdefault(key, now)
            if now - since >= self.rules.grace(kind):
                del self._pending[key]
                self._active[key] = ActiveAlert(device_id, kind, message, now)
                changes.append(AlertChange(device_id, kind, now, message))
        return changes

    def forget(self, device_id: int) -> None:
        """A plug was removed (its stored alerts go with it)."""
        for store in (self._active, self._pending):
            for key in [key for key in store if key[0] == device_id]:
                del store[key]
