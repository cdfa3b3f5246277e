"""``GET /api/energy/costs``: energy and cost per plug and in total for one local period.

Money is in the tariffs' currency; energy that no tariff priced is counted apart
(``unpriced_energy_wh``) rather than as free.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from balupi.api.deps import CurrentUser, EnergyDep
from balupi.api.params import RowId
from balupi.api.routes.energy.common import (
    CostLinePublic,
    DevicePublic,
    check_day,
    energy_router,
)
from balupi.clock import utc_iso
from balupi.services.energy import EnergyService, Period
from balupi.services.energy.costs import CostBucket, CostLine, CostReport

router = energy_router()


class DeviceCostPublic(CostLinePublic):
    id: int


class CostStepPublic(CostLinePublic):
    start: str
    label: str
    devices: list[DeviceCostPublic]


class CostsPublic(BaseModel):
    """A calendar period's costs. ``from``/``to`` are the whole period (UTC); its energy is
    counted up to ``counted_until`` (closed hours, never the future): the dashboard asks the
    history, the NAS link and the savings for the same window."""

    period: Period
    first_day: date
    last_day: date
    start: str = Field(serialization_alias="from")
    end: str = Field(serialization_alias="to")
    counted_until: str
    now: str
    timezone: str
    currency: str | None
    devices: list[DevicePublic]
    by_device: list[DeviceCostPublic]
    total: CostLinePublic
    breakdown: list[CostStepPublic]


@router.get("/costs")
async def get_costs(
    energy: EnergyDep,
    user: CurrentUser,
    period: Period = Period.MONTH,
    day: Annotated[date | None, Query(alias="date")] = None,
    device: RowId | None = None,
) -> CostsPublic:
    """Energy and cost per plug and in total for the local period holding ``date``."""
    if day is not None:
        check_day(day, "date")
    report = await energy.costs.report(period, day, device)
    return _costs_public(energy, report)


def _device_costs(lines: dict[int, CostLine]) -> list[DeviceCostPublic]:
    return [
        DeviceCostPublic(id=device_id, **CostLinePublic.of(line).model_dump())
        for device_id, line in lines.items()
    ]


def _step(step: CostBucket) -> CostStepPublic:
    return CostStepPublic(
        start=utc_iso(step.start),
        label=step.label,
        devices=_device_costs(step.devices),
        **CostLinePublic.of(step.total).model_dump(),
    )


def _costs_public(energy: EnergyService, report: CostReport) -> CostsPublic:
    return CostsPublic(
        period=report.period,
        first_day=report.first_day,
        last_day=report.end_day - timedelta(days=1),
        start=utc_iso(report.start),
        end=utc_iso(report.end),
        counted_until=utc_iso(report.counted_until),
        now=utc_iso(report.now),
        timezone=energy.calendar.zone.key,
        currency=report.currency,
        devices=[DevicePublic.of(device) for device in report.devices],
        by_device=_device_costs(report.by_device),
        total=CostLinePublic.of(report.total),
        breakdown=[_step(step) for step in report.breakdown],
    )
