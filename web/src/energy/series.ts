// What the history chart draws: average power per slot (a day or a week), energy per day (a
// month) or per month (a year), one series per plug, stacked by the chart.
//
// Every slot of the period up to where energy is counted gets a place on the x axis, measured or
// not: a slot without readings is null, which the chart leaves empty, so a gap is a gap and never
// a line drawn across missing hours. The axis itself spans the whole period.

import type { ChartSeries } from '../components/chart';
import type { History, HistoryPoint } from '../types';
import { axisTicks, daysOf, monthsOf, type Period, type Ticks } from './period';

export interface HistoryChart {
  x: number[]; // unix seconds
  xRange: [number, number];
  ticks: Ticks;
  series: ChartSeries[];
  kind: 'area' | 'bars';
  unit: 'W' | 'kWh';
  per: 'slot' | 'day' | 'month';
  timeZone: string;
  totalWh: number; // all plugs, the whole window: what the chart adds up to
}

/** The length of one history point, by the history's resolution. */
export const STEP_SECONDS = { '5min': 300, hour: 3600, day: 86400 } as const;

const measured = (p: HistoryPoint) => p.samples > 0 || p.covered_seconds > 0;

/** The energy (Wh) of all measured points of all series. */
export function totalEnergy(history: History): number {
  return history.series.reduce(
    (sum, s) => sum + s.points.reduce((part, p) => part + (measured(p) ? p.energy_wh : 0), 0),
    0,
  );
}

export function historyChart(
  history: History,
  period: Period,
  colourOf: (deviceId: number) => string,
): HistoryChart | null {
  if (history.series.length === 0) return null;
  const base = {
    timeZone: history.timezone,
    xRange: [period.start / 1000, period.end / 1000] as [number, number],
    ticks: axisTicks(period),
    totalWh: totalEnergy(history),
  };
  const label = (s: History['series'][number]) => ({ label: s.device.name, color: colourOf(s.device.id) });

  if (history.resolution !== 'day') {
    // Slots from the period's start up to where energy is counted, each one its own place.
    const step = STEP_SECONDS[history.resolution];
    const first = Math.floor(Date.parse(history.from) / 1000 / step) * step;
    const stop = period.until / 1000;
    const x: number[] = [];
    for (let at = first; at < stop; at += step) x.push(at);
    return {
      ...base,
      x,
      series: history.series.map((s) => {
        const byStart = new Map(s.points.filter(measured).map((p) => [Date.parse(p.start) / 1000, p]));
        return { ...label(s), values: x.map((at) => byStart.get(at)?.avg_power_w ?? null) };
      }),
      kind: 'area',
      unit: 'W',
      per: 'slot',
    };
  }
  if (period.range !== 'year') {
    // Every local day of the period that has begun, drawn at its middle.
    const days = daysOf(period).filter(([start]) => start < period.until);
    const keys = days.map(([start]) => start);
    return {
      ...base,
      x: days.map(([start, end]) => (start + end) / 2000),
      series: history.series.map((s) => {
        const byStart = new Map(s.points.filter(measured).map((p) => [Date.parse(p.start), p]));
        return {
          ...label(s),
          values: keys.map((k) => (byStart.has(k) ? byStart.get(k)!.energy_wh / 1000 : null)),
        };
      }),
      kind: 'bars',
      unit: 'kWh',
      per: 'day',
    };
  }
  // A year: the local days summed into their months (the key is the day's "YYYY-MM"), every
  // month of the year on the axis, the months to come empty.
  const months = monthsOf(period);
  return {
    ...base,
    x: months.map((m) => (m.start + m.end) / 2000),
    series: history.series.map((s) => {
      const sums = new Map<string, number>();
      for (const p of s.points) {
        if (!measured(p)) continue;
        const month = (p.day ?? p.start).slice(0, 7);
        sums.set(month, (sums.get(month) ?? 0) + p.energy_wh / 1000);
      }
      return { ...label(s), values: months.map((m) => sums.get(m.key) ?? null) };
    }),
    kind: 'bars',
    unit: 'kWh',
    per: 'month',
  };
}
