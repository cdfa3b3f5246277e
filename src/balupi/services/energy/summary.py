"""The energy summary: per plug and in total, the figures a dashboard's header shows.

For each plug, over the last ``days`` complete local days (the window): energy and cost, the mean
draw over the time the plug was measured, its typical day (that mean draw for 24 hours) and its
peak (highest hourly maximum); today and this month so far; and the month projected to its end.

**Totals are sums over plugs.** The earlier BaluPi averaged device-day rows, so three plugs at
1 kWh a day reported 1 kWh a day (and a third of the monthly cost). Here every total figure is
the sum of the plugs' figures, except the peak, which is the highest hour of the plugs together.

**Projection.** Month so far plus the remaining time of the month at the window's mean draw and
mean cost per measured second (so it follows the tariff mix the plug actually saw); a plug with no
measured window projects at this month's own rate, and a plug with no data projects nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Final

from balupi.services.energy.calendar import Period
from balupi.services.energy.costs import CostLine, StoredReport
from balupi.services.energy.errors import WindowInvalid
from balupi.services.energy.integration import MS_PER_HOUR, Rollup
from balupi.services.energy.store import (
    DeviceInfo,
    day_series,
    list_devices,
    peak_power,
    tariff_currency,
)
from balupi.types import DeviceId

MAX_WINDOW_DAYS: Final = 365
SECONDS_PER_DAY: Final = 86400


@dataclass(frozen=True, slots=True)
class Figures:
    """One plug's summary, or the total's."""

    window: CostLine
    covered_seconds: int
    avg_power_mw: int
    avg_daily_energy_mwh: int
    avg_daily_cost_micros: int
    peak_power_mw: int | None
    today: CostLine
    month: CostLine
    projected_month: CostLine

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            window=self.window + other.window,
            covered_seconds=self.covered_seconds + other.covered_seconds,
            avg_power_mw=self.avg_power_mw + other.avg_power_mw,
            avg_daily_energy_mwh=self.avg_daily_energy_mwh + other.avg_daily_energy_mwh,
            avg_daily_cost_micros=self.avg_daily_cost_micros + other.avg_daily_cost_micros,
            peak_power_mw=None,  # not additive; the total's comes from the hours themselves
            today=self.today + other.today,
            month=self.month + other.month,
            projected_month=self.projected_month + other.projected_month,
        )


ZERO: Final = Figures(CostLine(), 0, 0, 0, 0, None, CostLine(), CostLine(), CostLine())


@dataclass(frozen=True, slots=True)
class Summary:
    generated_at: datetime
    currency: str | None
    window_first: date
    window_end: date  # exclusive: today
    month_first: date
    month_end: date  # exclusive
    devices: list[DeviceInfo]
    by_device: dict[int, Figures]
    total: Figures


class EnergySummary(StoredReport):
    """Answers ``GET /api/energy/summary`` (see the module docstring)."""

    async def summary(self, days: int = 30, device_id: DeviceId | None = None) -> Summary:
        if not 1 <= days <= MAX_WINDOW_DAYS:
            raise WindowInvalid(f"days must lie between 1 and {MAX_WINDOW_DAYS}")
        calendar = self._calendar
        now = self._clock.now()
        today = calendar.local_date(now)
        window_first = today - timedelta(days=days)
        month_first, month_end = calendar.period_days(Period.MONTH, today)
        async with self._sessions() as session:
            devices = await list_devices(session, device_id)
            ids = [device.id for device in devices]
            series = await day_series(
                session,
                calendar,
                devices,
                min(window_first, month_first),
                today + timedelta(days=1),
            )
            peaks, joint_peak = await peak_power(
                session, ids, calendar.day_start(window_first), calendar.day_start(today)
            )
            currency = await tariff_currency(session)
        month_stop = calendar.day_start(month_end)
        by_device = {
            device.id: self._figures(
                device, series[device.id], peaks.get(device.id), window_first, today, month_stop
            )
            for device in devices
        }
        total = ZERO
        for figures in by_device.values():
            total += figures
        total = _with_peak(total, joint_peak)
        return Summary(
            generated_at=now,
            currency=currency,
            window_first=window_first,
            window_end=today,
            month_first=month_first,
            month_end=month_end,
            devices=devices,
            by_device=by_device,
            total=total,
        )

    def _figures(
        self,
        device: DeviceInfo,
        days: list[Rollup],
        peak: int | None,
        window_first: date,
        today: date,
        month_stop: datetime,
    ) -> Figures:
        calendar = self._calendar
        window_start, today_start = calendar.day_start(window_first), calendar.day_start(today)
        month_start = calendar.day_start(today.replace(day=1))
        window = [day for day in days if window_start <= day.start < today_start]
        month = [day for day in days if day.start >= month_start]
        window_line, month_line = CostLine.of(window), CostLine.of(month)
        covered = sum(day.covered_seconds for day in window)
        avg_power = _rate(window_line.energy_mwh * MS_PER_HOUR, covered)
        cost_per_day = _rate(window_line.cost_micros * SECONDS_PER_DAY, covered)
        return Figures(
            window=window_line,
            covered_seconds=covered,
            avg_power_mw=avg_power,
            avg_daily_energy_mwh=avg_power * 24,
            avg_daily_cost_micros=cost_per_day,
            peak_power_mw=peak,
            today=CostLine.of(day for day in days if day.start == today_start),
            month=month_line,
            projected_month=self._projection(
                device, month, month_line, window_line, covered, month_stop
            ),
        )

    def _projection(
        self,
        device: DeviceInfo,
        month: list[Rollup],
        month_line: CostLine,
        window_line: CostLine,
        window_covered: int,
        month_stop: datetime,
    ) -> CostLine:
        if device.hourly_done_until is None:
            return month_line
        remaining = max(0.0, (month_stop - device.hourly_done_until).total_seconds())
        basis, covered = window_line, window_covered
        if covered == 0:
            basis, covered = month_line, sum(day.covered_seconds for day in month)
        if covered == 0:
            return month_line
        return CostLine(
            energy_mwh=month_line.energy_mwh + round(basis.energy_mwh * remaining / covered),
            cost_micros=month_line.cost_micros + round(basis.cost_micros * remaining / covered),
            unpriced_energy_mwh=month_line.unpriced_energy_mwh
            + round(basis.unpriced_energy_mwh * remaining / covered),
        )


def _rate(amount: int, seconds: int) -> int:
    return round(amount / seconds) if seconds else 0


def _with_peak(figures: Figures, peak: int | None) -> Figures:
    return replace(figures, peak_power_mw=peak)
