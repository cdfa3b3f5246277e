"""The shapes of ``/api/tapo/*`` and ``/api/energy/current|alerts``: in, out, and the mapping.

Watts, volts and amps on the wire (what dashboards show); milli-units inside. Out-models are built
from the Tapo service's frozen records, never from table rows, so nothing stored leaks by accident
(the cached python-kasa connection parameters, for one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

from balupi.db.models.energy import AlertKind, DeviceRole
from balupi.services.nas.power import PowerThresholds
from balupi.services.tapo import KEEP, LivePlug, PlugChanges, PlugState, PlugView
from balupi.services.tapo.devices import AlertRecord
from balupi.services.tapo.service import CurrentPower, DiscoveryEntry

Watts = Annotated[float, Field(gt=0, le=100_000)]


def _watts(milli: int | None) -> float | None:
    return None if milli is None else milli / 1000


# -- in ---------------------------------------------------------------------------------------


class ThresholdsIn(BaseModel):
    """Upper bounds in W of off, standby and idle for the NAS plug; they must rise."""

    off_below_w: Watts
    standby_below_w: Watts
    idle_below_w: Watts

    @model_validator(mode="after")
    def _rising(self) -> Self:
        self.to_thresholds()  # ValueError (422) unless 0 < off < standby < idle
        return self

    def to_thresholds(self) -> PowerThresholds:
        return PowerThresholds(self.off_below_w, self.standby_below_w, self.idle_below_w)


class AddPlugIn(BaseModel):
    host: Annotated[str, Field(min_length=1, max_length=255)]
    port: Annotated[int, Field(ge=1, le=65535)] | None = None


class UpdatePlugIn(BaseModel):
    """Only the fields sent change; ``thresholds`` / ``power_limit_w`` null resets them."""

    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    role: DeviceRole | None = None
    thresholds: ThresholdsIn | None = None
    power_limit_w: Watts | None = None

    def to_changes(self) -> PlugChanges:
        sent = self.model_fields_set
        return PlugChanges(
            name=self.name if self.name is not None else KEEP,
            role=self.role if self.role is not None else KEEP,
            thresholds=(
                (self.thresholds.to_thresholds() if self.thresholds else None)
                if "thresholds" in sent
                else KEEP
            ),
            power_limit_mw=(
                (round(self.power_limit_w * 1000) if self.power_limit_w is not None else None)
                if "power_limit_w" in sent
                else KEEP
            ),
        )


class ToggleIn(BaseModel):
    """``on``: the state wanted (null: the other one); ``force`` may cut an awake NAS."""

    on: bool | None = None
    force: bool = False


class DiscoverIn(BaseModel):
    target: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    timeout_s: Annotated[float, Field(ge=1, le=30)] = 5.0


# -- out --------------------------------------------------------------------------------------


class ThresholdsOut(BaseModel):
    off_below_w: float
    standby_below_w: float
    idle_below_w: float


class LiveOut(BaseModel):
    """One plug's latest reading; ``docs/compat/nas-api.md`` §5.1's fields first."""

    device_id: int
    name: str
    power_w: float | None
    voltage_v: float | None
    current_a: float | None
    role: DeviceRole
    is_on: bool | None
    today_wh: int | None
    month_wh: int | None
    online: bool
    status: PlugState
    error: str | None
    measured_at: datetime | None  # when the reading was taken (kept while later polls fail)
    checked_at: datetime | None  # the last attempt, answered or not

    @classmethod
    def of(cls, plug: LivePlug) -> LiveOut:
        reading = plug.reading
        return cls(
            device_id=plug.device_id,
            name=plug.name,
            power_w=reading.power_w if reading else None,
            voltage_v=reading.voltage_v if reading else None,
            current_a=reading.current_a if reading else None,
            role=plug.role,
            is_on=reading.is_on if reading else None,
            today_wh=reading.today_wh if reading else None,
            month_wh=reading.month_wh if reading else None,
            online=plug.online,
            status=plug.state,
            error=plug.error,
            measured_at=reading.at if reading else None,
            checked_at=plug.checked_at,
        )


class CurrentOut(BaseModel):
    devices: list[LiveOut]
    total_power_w: float  # plugs online with a reading
    timestamp: datetime

    @classmethod
    def of(cls, current: CurrentPower) -> CurrentOut:
        return cls(
            devices=[LiveOut.of(plug) for plug in current.plugs],
            total_power_w=current.total_power_mw / 1000,
            timestamp=current.at,
        )


class PlugOut(BaseModel):
    id: int
    mac: str
    name: str
    host: str
    port: int | None
    model: str | None
    firmware: str | None
    role: DeviceRole
    power_limit_w: float | None
    thresholds: ThresholdsOut | None  # null: the defaults
    is_online: bool
    status: PlugState
    last_error: str | None
    last_seen_at: datetime | None
    consecutive_failures: int
    created_at: datetime
    live: LiveOut

    @classmethod
    def of(cls, view: PlugView) -> PlugOut:
        record, live = view.record, view.live
        thresholds = record.thresholds
        return cls(
            id=record.id,
            mac=record.mac,
            name=record.name,
            host=record.address.host,
            port=record.address.port,
            model=record.model,
            firmware=record.firmware,
            role=record.role,
            power_limit_w=_watts(record.power_limit_mw),
            thresholds=(
                ThresholdsOut(
                    off_below_w=thresholds.off_below_w,
                    standby_below_w=thresholds.standby_below_w,
                    idle_below_w=thresholds.idle_below_w,
                )
                if thresholds
                else None
            ),
            is_online=record.status.is_online,
            status=live.state,
            last_error=record.status.last_error,
            last_seen_at=record.status.last_seen_at,
            consecutive_failures=record.status.consecutive_failures,
            created_at=record.created_at,
            live=LiveOut.of(live),
        )


class PlugsOut(BaseModel):
    devices: list[PlugOut]


class PlugAddedOut(PlugOut):
    created: bool


class DiscoveredOut(BaseModel):
    host: str
    mac: str | None
    created: bool
    device: PlugOut | None
    error: str | None

    @classmethod
    def of(cls, entry: DiscoveryEntry) -> DiscoveredOut:
        return cls(
            host=entry.host,
            mac=entry.mac,
            created=entry.created,
            device=PlugOut.of(entry.device) if entry.device else None,
            error=entry.error,
        )


class DiscoveryOut(BaseModel):
    found: list[DiscoveredOut]


class AlertOut(BaseModel):
    id: int
    device_id: int
    device_name: str
    kind: AlertKind
    message: str
    active: bool
    raised_at: datetime
    cleared_at: datetime | None

    @classmethod
    def of(cls, alert: AlertRecord) -> AlertOut:
        return cls(
            id=alert.id,
            device_id=alert.device_id,
            device_name=alert.device_name,
            kind=alert.kind,
            message=alert.message,
            active=alert.cleared_at is None,
            raised_at=alert.raised_at,
            cleared_at=alert.cleared_at,
        )


class AlertsOut(BaseModel):
    alerts: list[AlertOut]
