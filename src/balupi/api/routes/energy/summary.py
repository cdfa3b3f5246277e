"""``GET /api/energy/summary``: average, peak, energy and cost per plug and in total.

The totals are sums over the plugs; the month is projected from the days counted so far.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel

from balupi.api.deps import CurrentUser, EnergyDep
from balupi.api.params import RowId
from balupi.api.routes.energy.common import CostLinePublic, DevicePublic, energy_router, wh
from balupi.clock import utc_iso
from balupi.services.energy import EnergyService
from balupi.services.energy.summary import Figures, Summary

router = energy_router()


class FiguresPublic(BaseModel):
    energy_wh: float
    cost: float
    unpriced_energy_wh: float
    covered_seconds: int
    avg_power_w: float
    peak_power_w: float | None
    avg_daily_energy_wh: float
    avg_daily_cost: float
    today: CostLinePublic
    month: CostLinePublic
    month_projected: CostLinePublic


class DeviceSummaryPublic(FiguresPublic):
    device: DevicePublic


class DaysPublic(BaseModel):
    first_day: date
    last_day: date
    days: int

    @classmethod
    def of(cls, first: date, end: date) -> DaysPublic:
        return cls(first_day=first, last_day=end - timedelta(days=1), days=(end - first).days)


class SummaryPublic(BaseModel):
    generated_at: str
    timezone: str
    currency: str | None
    window: DaysPublic
    month: DaysPublic
    devices: list[DeviceSummaryPublic]
    total: FiguresPublic


@router.get("/summary")
async def get_summary(
    energy: EnergyDep,
    user: CurrentUser,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    device: RowId | None = None,
) -> SummaryPublic:
    """Average, peak, energy and cost per plug and in total (sums), the month projected."""
    summary = await energy.summary.summary(days, device)
    return _summary_public(energy, summary)


def _figures(figures: Figures) -> dict[str, Any]:
    return {
        "energy_wh": wh(figures.window.energy_mwh),
        "cost": figures.window.cost_micros / 1_000_000,
        "unpriced_energy_wh": wh(figures.window.unpriced_energy_mwh),
        "covered_seconds": figures.covered_seconds,
        "avg_power_w": figures.avg_power_mw / 1000,
        "peak_power_w": None if figures.peak_power_mw is None else figures.peak_power_mw / 1000,
        "avg_daily_energy_wh": wh(figures.avg_daily_energy_mwh),
        "avg_daily_cost": figures.avg_daily_cost_micros / 1_000_000,
        "today": CostLinePublic.of(figures.today),
        "month": CostLinePublic.of(figures.month),
        "month_projected": CostLinePublic.of(figures.projected_month),
    }


def _summary_public(energy: EnergyService, summary: Summary) -> SummaryPublic:
    return SummaryPublic(
        generated_at=utc_iso(summary.generated_at),
        timezone=energy.calendar.zone.key,
        currency=summary.currency,
        window=DaysPublic.of(summary.window_first, summary.window_end),
        month=DaysPublic.of(summary.month_first, summary.month_end),
        devices=[
            DeviceSummaryPublic(
                device=DevicePublic.of(device), **_figures(summary.by_device[device.id])
            )
            for device in summary.devices
        ],
        total=FiguresPublic(**_figures(summary.total)),
    )
