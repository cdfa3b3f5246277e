// What the history chart draws: average power per slot (a day or a week), energy per day (a
// month) or per month (a year), one series per plug, stacked by the chart.

import type { ChartSeries } from '../components/chart';
import type { History, HistoryPoint } from '../types';

export interface HistoryChart {
  x: number[]; // unix seconds
  series: ChartSeries[];
  kind: 'area' | 'bars';
  unit: 'W' | 'kWh';
  per: 'slot' | 'day' | 'month';
  timeZone: string;
}

const measured = (p: HistoryPoint) => p.samples > 0 || p.covered_seconds > 0;

export function historyChart(history: History, colourOf: (deviceId: number) => string): HistoryChart | null {
  if (history.series.length === 0 || history.series[0].points.length === 0) return null;
  const points = history.series[0].points;
  const base = { timeZone: history.timezone };
  const label = (s: History['series'][number]) => ({ label: s.device.name, color: colourOf(s.device.id) });

  if (history.resolution !== 'day') {
    return {
      ...base,
      x: points.map((p) => Date.parse(p.start) / 1000),
      series: history.series.map((s) => ({
        ...label(s),
        values: s.points.map((p) => (measured(p) ? p.avg_power_w : null)),
      })),
      kind: 'area',
      unit: 'W',
      per: 'slot',
    };
  }
  if (history.range !== 'year') {
    return {
      ...base,
      x: points.map((p) => Date.parse(p.start) / 1000),
      series: history.series.map((s) => ({
        ...label(s),
        values: s.points.map((p) => (measured(p) ? p.energy_wh / 1000 : null)),
      })),
      kind: 'bars',
      unit: 'kWh',
      per: 'day',
    };
  }
  // A year: the local days summed into their months (the key is the day's "YYYY-MM"), every
  // month of the window shown, each bar drawn mid-month.
  const months = monthsBetween(history.from, history.to, history.timezone);
  const starts = months.map((m) => Date.UTC(Number(m.slice(0, 4)), Number(m.slice(5, 7)) - 1, 15) / 1000);
  return {
    ...base,
    x: starts,
    series: history.series.map((s) => {
      const sums = new Map<string, number>();
      for (const p of s.points) {
        if (!measured(p)) continue;
        const month = (p.day ?? p.start).slice(0, 7);
        sums.set(month, (sums.get(month) ?? 0) + p.energy_wh / 1000);
      }
      return { ...label(s), values: months.map((m) => sums.get(m) ?? null) };
    }),
    kind: 'bars',
    unit: 'kWh',
    per: 'month',
  };
}

/** The local months ("YYYY-MM") from the one holding `from` to the one holding `to`. */
function monthsBetween(from: string, to: string, timeZone: string): string[] {
  const monthOf = (iso: string) =>
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit' }).format(new Date(iso));
  const [first, last] = [monthOf(from), monthOf(to)];
  const months: string[] = [];
  let [year, month] = first.split('-').map(Number);
  for (let key = first; key <= last;) {
    months.push(key);
    month = month === 12 ? 1 : month + 1;
    year = month === 1 ? year + 1 : year;
    key = `${year}-${String(month).padStart(2, '0')}`;
  }
  return months;
}
