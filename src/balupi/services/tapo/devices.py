"""The plugs, their samples and their alerts in the database (``tapo_devices``, ``energy_*``).

``PlugStore`` is the only code of the Tapo service that speaks SQL. Rows leave it as frozen
``PlugRecord`` snapshots, so nothing holds a session across an ``await`` on a plug. Plugs are
matched by MAC: adding one whose MAC is known updates that row (a new DHCP lease, an emulator on
a new port) and keeps its name, role, limits and history.

A poll round is written in **one transaction** (``write_round``): the round's samples, the
status of the plugs whose status changed, newly negotiated connection parameters and the alerts
raised or cleared, so the SD card sees one commit per round, not one per plug.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from balupi.db.models.energy import (
    AlertKind,
    DeviceRole,
    EnergyAlert,
    EnergySample,
    TapoDevice,
)
from balupi.errors import PlugNotFound, PlugRefused
from balupi.services.nas.power import PowerThresholds
from balupi.services.tapo.alerts import ActiveAlert, AlertChange
from balupi.services.tapo.client import PlugAddress, PlugIdentity, PlugReading


class _Keep(enum.Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP  # "leave this setting as it is", told apart from None ("no limit", "defaults")


@dataclass(frozen=True)
class PlugChanges:
    """What ``PUT /api/tapo/devices/{id}`` changes; fields left at ``KEEP`` stay as they are."""

    name: str | _Keep = KEEP
    role: DeviceRole | _Keep = KEEP
    thresholds: PowerThresholds | _Keep | None = KEEP
    power_limit_mw: int | _Keep | None = KEEP


@dataclass(frozen=True)
class PlugStatus:
    """What polling changes about a plug, as stored."""

    is_online: bool
    consecutive_failures: int
    last_seen_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class PlugRecord:
    id: int
    mac: str
    name: str
    address: PlugAddress
    model: str | None
    firmware: str | None
    role: DeviceRole
    status: PlugStatus
    power_limit_mw: int | None
    thresholds: PowerThresholds | None
    connection_params: dict[str, Any] | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: TapoDevice) -> PlugRecord:
        return cls(
            id=row.id,
            mac=row.mac_address,
            name=row.name,
            address=PlugAddress(row.host, row.port),
            model=row.model,
            firmware=row.firmware,
            role=row.role,
            status=PlugStatus(
                row.is_online, row.consecutive_failures, row.last_seen_at, row.last_error
            ),
            power_limit_mw=row.power_limit_mw,
            thresholds=_thresholds_of(row),
            connection_params=row.device_config,
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class AlertRecord:
    id: int
    device_id: int
    device_name: str
    kind: AlertKind
    message: str
    raised_at: datetime
    cleared_at: datetime | None


def _thresholds_of(row: TapoDevice) -> PowerThresholds | None:
    bounds = (row.off_below_mw, row.standby_below_mw, row.idle_below_mw)
    if any(bound is None for bound in bounds):
        return None
    off, standby, idle = (bound / 1000 for bound in bounds if bound is not None)
    return PowerThresholds(off_below_w=off, standby_below_w=standby, idle_below_w=idle)


def _set_thresholds(row: TapoDevice, thresholds: PowerThresholds | None) -> None:
    if thresholds is None:
        row.off_below_mw = row.standby_below_mw = row.idle_below_mw = None
        return
    row.off_below_mw = round(thresholds.off_below_w * 1000)
    row.standby_below_mw = round(thresholds.standby_below_w * 1000)
    row.idle_below_mw = round(thresholds.idle_below_w * 1000)


class PlugStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def all(self) -> list[PlugRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(select(TapoDevice).order_by(TapoDevice.id))
            return [PlugRecord.from_row(row) for row in rows]

    async def get(self, device_id: int) -> PlugRecord:
        async with self._sessions() as session:
            return PlugRecord.from_row(await self._row(session, device_id))

    @staticmethod
    async def _row(session: AsyncSession, device_id: int) -> TapoDevice:
        row = await session.get(TapoDevice, device_id)
        if row is None:
            raise PlugNotFound(device_id)
        return row

    async def upsert(
        self,
        identity: PlugIdentity,
        address: PlugAddress,
        connection_params: dict[str, Any],
        *,
        seen_at: datetime,
    ) -> tuple[PlugRecord, bool]:
        """Insert the plug, or update the one with its MAC; True if it is new."""
        async with self._sessions.begin() as session:
            row = await session.scalar(
                select(TapoDevice).where(TapoDevice.mac_address == identity.mac)
            )
            created = row is None
            if row is None:
                row = TapoDevice(mac_address=identity.mac, name=identity.alias)
                session.add(row)
            row.host = address.host
            row.port = address.port
            row.model = identity.model
            row.firmware = identity.firmware
            row.device_config = connection_params
            row.is_online = True
            row.consecutive_failures = 0
            row.last_seen_at = seen_at
            row.last_error = None
            await session.flush()
            return PlugRecord.from_row(row), created

    async def change(self, device_id: int, changes: PlugChanges) -> PlugRecord:
        """Apply ``changes``; one plug at most has the role ``nas`` (``PlugRefused`` otherwise)."""
        async with self._sessions.begin() as session:
            row = await self._row(session, device_id)
            if changes.role is DeviceRole.NAS and row.role is not DeviceRole.NAS:
                holder = await session.scalar(
                    select(TapoDevice).where(
                        TapoDevice.role == DeviceRole.NAS, TapoDevice.id != device_id
                    )
                )
                if holder is not None:
                    raise PlugRefused(
                        f"plug {holder.id} ({holder.name}) is already the NAS plug; "
                        "give it another role first"
                    )
            if not isinstance(changes.name, _Keep):
                row.name = changes.name
            if not isinstance(changes.role, _Keep):
                row.role = changes.role
            if not isinstance(changes.thresholds, _Keep):
                _set_thresholds(row, changes.thresholds)
            if not isinstance(changes.power_limit_mw, _Keep):
                row.power_limit_mw = changes.power_limit_mw
            await session.flush()
            return PlugRecord.from_row(row)

    async def delete(self, device_id: int) -> None:
        """Remove the plug with its samples, aggregates and alerts (foreign keys cascade)."""
        async with self._sessions.begin() as session:
            await session.delete(await self._row(session, device_id))

    async def write_round(
        self,
        *,
        samples: Sequence[tuple[int, PlugReading]],
        statuses: Mapping[int, PlugStatus],
        connection_params: Mapping[int, dict[str, Any]],
        alerts: Sequence[AlertChange],
    ) -> None:
        """Store one poll round in one transaction (see the module docstring)."""
        if not (samples or statuses or connection_params or alerts):
            return
        async with self._sessions.begin() as session:
            if samples:
                # The same plug and instant twice (a toggle and a poll in one tick) is one reading.
                await session.execute(
                    sqlite_insert(EnergySample).on_conflict_do_nothing(),
                    [_sample_row(device_id, reading) for device_id, reading in samples],
                )
            for device_id, status in statuses.items():
                await session.execute(
                    update(TapoDevice)
                    .where(TapoDevice.id == device_id)
                    .values(
                        is_online=status.is_online,
                        consecutive_failures=status.consecutive_failures,
                        last_seen_at=status.last_seen_at,
                        last_error=status.last_error,
                    )
                )
            for device_id, params in connection_params.items():
                await session.execute(
                    update(TapoDevice)
                    .where(TapoDevice.id == device_id)
                    .values(device_config=params)
                )
            for change in alerts:
                if change.message is not None:
                    session.add(
                        EnergyAlert(
                            device_id=change.device_id,
                            kind=change.kind,
                            message=change.message,
                            raised_at=change.at,
                        )
                    )
                else:
                    await session.execute(
                        update(EnergyAlert)
                        .where(
                            EnergyAlert.device_id == change.device_id,
                            EnergyAlert.kind == change.kind,
                            EnergyAlert.cleared_at.is_(None),
                        )
                        .values(cleared_at=change.at)
                    )
                await session.flush()  # in order: a clear and a new raise of one kind

    async def active_alerts(self) -> list[ActiveAlert]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(EnergyAlert).where(EnergyAlert.cleared_at.is_(None))
            )
            return [
                ActiveAlert(row.device_id, row.kind, row.message, row.raised_at) for row in rows
            ]

    async def alerts(self, *, active_only: bool, limit: int) -> list[AlertRecord]:
        """Alerts, newest first; with ``active_only`` only those whose cause still holds."""
        query = (
            select(EnergyAlert, TapoDevice.name)
            .join(TapoDevice, TapoDevice.id == EnergyAlert.device_id)
            .order_by(EnergyAlert.raised_at.desc(), EnergyAlert.id.desc())
            .limit(limit)
        )
        if active_only:
            query = query.where(EnergyAlert.cleared_at.is_(None))
        async with self._sessions() as session:
            result = await session.execute(query)
            return [
                AlertRecord(
                    id=alert.id,
                    device_id=alert.device_id,
                    device_name=name,
                    kind=alert.kind,
                    message=alert.message,
                    raised_at=alert.raised_at,
                    cleared_at=alert.cleared_at,
                )
                for alert, name in result.all()
            ]

    async def prune_alerts(self, *, cleared_before: datetime) -> int:
        """Delete alerts cleared before ``cleared_before``; returns how many."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(EnergyAlert).where(EnergyAlert.cleared_at < cleared_before)
            )
            return int(getattr(result, "rowcount", 0) or 0)


def _sample_row(device_id: int, reading: PlugReading) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "ts": reading.at,
        "power_mw": reading.power_mw,
        "voltage_mv": reading.voltage_mv,
        "current_ma": reading.current_ma,
        "today_wh": reading.today_wh,
        "month_wh": reading.month_wh,
    }
