"""``/api/energy/{history,costs,summary,tariffs}``: energy over time (Pi-exclusive).

Reading needs a login, changing tariffs an admin. Units on the wire: energy in Wh, power in W,
money in the tariffs' currency (floats made from exact integers: mWh, mW, micros); instants in
UTC with ``Z``; local dates (``YYYY-MM-DD``) wherever a day is meant. Live readings
(``/api/energy/current``) and alerts are the Tapo service's (``energy_live.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, Field
from pydantic_core import to_json

from balupi.api.deps import AdminUser, CurrentUser, EnergyDep
from balupi.api.params import RowId
from balupi.clock import utc_iso
from balupi.services.energy import (
    EnergyService,
    HistoryRange,
    Period,
    Resolution,
    Tariff,
    TariffDraft,
)
from balupi.services.energy.costs import CostBucket, CostLine, CostReport
from balupi.services.energy.history import History, StackedPoint
from balupi.services.energy.integration import Rollup
from balupi.services.energy.store import DeviceInfo
from balupi.services.energy.summary import Figures, Summary
from balupi.services.energy.tariffs import TariffChange, price_micros

router = APIRouter(prefix="/api/energy", tags=["energy"])

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The days the energy routes answer for: plugs kept no readings before 1970, and far beyond
# any reading the calendar's arithmetic still stays inside Python's dates.
_EARLIEST_DAY = date(1970, 1, 1)
_LATEST_DAY = date(9000, 12, 31)


# -- shapes ------------------------------------------------------------------------------------


def _wh(mwh: int) -> float:
    return mwh / 1000


def _money(micros: int | None) -> float | None:
    return None if micros is None else micros / 1_000_000


class DevicePublic(BaseModel):
    id: int
    name: str
    role: str

    @classmethod
    def of(cls, device: DeviceInfo) -> DevicePublic:
        return cls(id=device.id, name=device.name, role=device.role.value)


class PointPublic(BaseModel):
    """One point of one plug: a five-minute slot, an hour, or a local day (``day``)."""

    start: str
    day: str | None = None
    energy_wh: float
    avg_power_w: float
    min_power_w: float
    max_power_w: float
    counter_wh: int | None
    samples: int
    covered_seconds: int
    cost: float | None


class StackedPointPublic(BaseModel):
    start: str
    day: str | None = None
    energy_wh: float
    avg_power_w: float
    cost: float | None


class SeriesPublic(BaseModel):
    device: DevicePublic
    points: list[PointPublic]


class HistoryPublic(BaseModel):
    range: HistoryRange
    resolution: Resolution
    timezone: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    series: list[SeriesPublic]
    total: list[StackedPointPublic]


class CostLinePublic(BaseModel):
    energy_wh: float
    cost: float
    unpriced_energy_wh: float

    @classmethod
    def of(cls, line: CostLine) -> CostLinePublic:
        return cls(
            energy_wh=_wh(line.energy_mwh),
            cost=line.cost_micros / 1_000_000,
            unpriced_energy_wh=_wh(line.unpriced_energy_mwh),
        )


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


class TariffIn(BaseModel):
    """A tariff as an admin enters it: a price per kWh in the currency, local dates and times."""

    # Lengths and ranges are checked by TariffDraft.validated(), which says what is wrong in
    # a plain sentence; pydantic's would name the API's fields.
    name: str
    price_per_kwh: Decimal
    currency: str = "EUR"
    valid_from: date
    valid_until: date | None = None
    starts_at: time | None = None
    ends_at: time | None = None

    def draft(self) -> TariffDraft:
        return TariffDraft(
            name=self.name,
            price_per_kwh_micros=price_micros(self.price_per_kwh),
            currency=self.currency,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
        )


class TariffPublic(BaseModel):
    id: int
    name: str
    price_per_kwh: float
    price_per_kwh_micros: int
    currency: str
    valid_from: date
    valid_until: date | None
    starts_at: str | None
    ends_at: str | None

    @classmethod
    def of(cls, tariff: Tariff) -> TariffPublic:
        return cls(
            id=tariff.id,
            name=tariff.name,
            price_per_kwh=tariff.price_per_kwh_micros / 1_000_000,
            price_per_kwh_micros=tariff.price_per_kwh_micros,
            currency=tariff.currency,
            valid_from=tariff.valid_from,
            valid_until=tariff.valid_until,
            starts_at=tariff.starts_at.strftime("%H:%M") if tariff.starts_at else None,
            ends_at=tariff.ends_at.strftime("%H:%M") if tariff.ends_at else None,
        )


class TariffCreatedPublic(BaseModel):
    tariff: TariffPublic
    superseded: list[TariffPublic]

    @classmethod
    def of(cls, change: TariffChange) -> TariffCreatedPublic:
        return cls(
            tariff=TariffPublic.of(change.tariff),
            superseded=[TariffPublic.of(old) for old in change.superseded],
        )


# -- routes ------------------------------------------------------------------------------------


@router.get("/history", response_model=HistoryPublic)
async def get_history(
    energy: EnergyDep,
    user: CurrentUser,
    range_: Annotated[HistoryRange, Query(alias="range")] = HistoryRange.DAY,
    device: RowId | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
) -> Response:
    """One series per plug (or just ``device``) and their stacked total; see ``docs/api.md``."""
    history = await energy.history.history(
        range_, device, _instant(energy, from_, "from"), _instant(energy, to, "to")
    )
    return Response(to_json(_history_body(energy, history)), media_type="application/json")


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
        _check_day(day, "date")
    report = await energy.costs.report(period, day, device)
    return _costs_public(energy, report)


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


@router.get("/tariffs")
async def list_tariffs(energy: EnergyDep, user: CurrentUser) -> list[TariffPublic]:
    return [TariffPublic.of(tariff) for tariff in await energy.tariffs.all()]


@router.post("/tariffs", status_code=status.HTTP_201_CREATED)
async def create_tariff(
    energy: EnergyDep,
    admin: AdminUser,
    body: TariffIn,
    response: Response,
    dry_run: bool = False,
) -> TariffCreatedPublic:
    """A new price from ``valid_from`` on (an open-ended one ends its open-ended predecessor);
    ``?dry_run=true`` stores nothing and answers 200 with what would change (``superseded``)."""
    change = await energy.tariffs.create(body.draft(), dry_run=dry_run)
    if dry_run:
        response.status_code = status.HTTP_200_OK
    return TariffCreatedPublic.of(change)


@router.put("/tariffs/{tariff_id}")
async def replace_tariff(
    energy: EnergyDep, admin: AdminUser, tariff_id: RowId, body: TariffIn
) -> TariffPublic:
    return TariffPublic.of(await energy.tariffs.replace(tariff_id, body.draft()))


@router.delete("/tariffs/{tariff_id}")
async def delete_tariff(energy: EnergyDep, admin: AdminUser, tariff_id: RowId) -> TariffPublic:
    """Removes the tariff and answers it (200, never 204)."""
    return TariffPublic.of(await energy.tariffs.delete(tariff_id))


# -- translation -------------------------------------------------------------------------------


def _instant(energy: EnergyService, value: str | None, name: str) -> datetime | None:
    """``YYYY-MM-DD`` (local midnight) or an ISO datetime with ``Z`` or an offset."""
    if value is None:
        return None
    try:
        if _DATE_ONLY.match(value):
            return energy.calendar.day_start(_check_day(date.fromisoformat(value), name))
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"'{name}' is neither a date nor an ISO datetime") from None
    if moment.tzinfo is None:
        raise HTTPException(422, f"'{name}' needs a time zone: add Z or an offset")
    _check_day(moment.date(), name)
    return moment


def _check_day(day: date, name: str) -> date:
    """``day`` if the calendar can count from it, else 422: a local midnight, the next day or
    the next year of a day at either end of Python's dates is an ``OverflowError``."""
    if not _EARLIEST_DAY <= day <= _LATEST_DAY:
        raise HTTPException(422, f"'{name}' must lie between {_EARLIEST_DAY} and {_LATEST_DAY}")
    return day


# Each instant recurs once per plug and in the total: it is formatted once per answer.
_Stamp = Callable[[datetime], str | None]


def _point(stamp: _Stamp, day: _Stamp, rollup: Rollup) -> dict[str, Any]:
    return {
        "start": stamp(rollup.start),
        "day": day(rollup.start),
        "energy_wh": _wh(rollup.energy_mwh),
        "avg_power_w": rollup.avg_power_mw / 1000,
        "min_power_w": rollup.min_power_mw / 1000,
        "max_power_w": rollup.max_power_mw / 1000,
        "counter_wh": rollup.counter_wh,
        "samples": rollup.sample_count,
        "covered_seconds": rollup.covered_seconds,
        "cost": _money(rollup.cost_micros),
    }


def _stacked(stamp: _Stamp, day: _Stamp, point: StackedPoint) -> dict[str, Any]:
    return {
        "start": stamp(point.start),
        "day": day(point.start),
        "energy_wh": _wh(point.energy_mwh),
        "avg_power_w": point.avg_power_mw / 1000,
        "cost": _money(point.cost_micros),
    }


def _memo(render: _Stamp) -> _Stamp:
    done: dict[datetime, str | None] = {}

    def memoised(moment: datetime) -> str | None:
        if moment not in done:
            done[moment] = render(moment)
        return done[moment]

    return memoised


def _history_body(energy: EnergyService, history: History) -> dict[str, Any]:
    """``HistoryPublic`` as plain data, for ``get_history`` to write straight to JSON.

    A year of ten plugs is 4 000 points: they are written as plain dicts (by pydantic's core,
    five times as fast as ``json``) in the ``HistoryPublic`` shape, the documented schema, which
    the tests check; building and validating a model per point took four times as long as the
    query.
    """
    calendar = energy.calendar
    daily = history.resolution is Resolution.DAY
    stamp = _memo(utc_iso)
    day = _memo(lambda moment: calendar.local_date(moment).isoformat() if daily else None)
    return {
        "range": history.range.value,
        "resolution": history.resolution.value,
        "timezone": calendar.zone.key,
        "from": utc_iso(history.start),
        "to": utc_iso(history.end),
        "series": [
            {
                "device": DevicePublic.of(device).model_dump(),
                "points": [_point(stamp, day, rollup) for rollup in history.series[device.id]],
            }
            for device in history.devices
        ],
        "total": [_stacked(stamp, day, point) for point in history.total],
    }


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


def _figures(figures: Figures) -> dict[str, Any]:
    return {
        "energy_wh": _wh(figures.window.energy_mwh),
        "cost": figures.window.cost_micros / 1_000_000,
        "unpriced_energy_wh": _wh(figures.window.unpriced_energy_mwh),
        "covered_seconds": figures.covered_seconds,
        "avg_power_w": figures.avg_power_mw / 1000,
        "peak_power_w": None if figures.peak_power_mw is None else figures.peak_power_mw / 1000,
        "avg_daily_energy_wh": _wh(figures.avg_daily_energy_mwh),
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
