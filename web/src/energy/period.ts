// The one definition of the energy page's periods: the calendar day, week (Monday first), month or
// year holding now, in the Pi's time zone, as `/api/energy/costs` answers it (`from`, `to`). Energy
// is counted up to `counted_until` (the closed hours), which the chart, the costs and the savings
// all use; the timeline runs to now. Nothing after now is ever asked for.

import { locale } from '../i18n';
import type { Costs, Range } from '../types';

export interface Period {
  range: Range;
  start: number; // ms, the period's first instant
  end: number; // ms, exclusive: the axes always span the whole period
  until: number; // ms, energy counted up to here (closed hours)
  now: number; // ms, the Pi's now
  timeZone: string;
  firstDay: string; // YYYY-MM-DD, local
}

export function periodOf(costs: Costs): Period {
  return {
    range: costs.period,
    start: Date.parse(costs.from),
    end: Date.parse(costs.to),
    until: Date.parse(costs.counted_until),
    now: Date.parse(costs.now),
    timeZone: costs.timezone,
    firstDay: costs.first_day,
  };
}

export const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** Whether the period has counted energy yet (just after midnight it has not). */
export const hasCounted = (p: Period) => p.until > p.start;

const partsFormat = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock fields of `ms` in `timeZone`. */
function wallClock(ms: number, timeZone: string): number[] {
  let format = partsFormat.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    partsFormat.set(timeZone, format);
  }
  const fields: Record<string, number> = {};
  for (const part of format.formatToParts(new Date(ms))) fields[part.type] = Number(part.value);
  return [fields.year, fields.month, fields.day, fields.hour % 24, fields.minute, fields.second];
}

/** The instant (ms) of a local wall time in `timeZone`; month 1-12, days and months may overflow. */
export function zoned(timeZone: string, year: number, month: number, day = 1, hour = 0): number {
  const wanted = Date.UTC(year, month - 1, day, hour);
  let guess = wanted;
  for (let i = 0; i < 3; i++) {
    const [y, mo, d, h, mi, s] = wallClock(guess, timeZone);
    const shown = Date.UTC(y, mo - 1, d, h, mi, s);
    if (shown === wanted) break;
    guess += wanted - shown;
  }
  return guess;
}

function firstDayFields(p: Period): [number, number, number] {
  const [y, m, d] = p.firstDay.split('-').map(Number);
  return [y, m, d];
}

/** The local days of the period as [start, end) instants (ms). */
export function daysOf(p: Period): [number, number][] {
  const [y, m, d] = firstDayFields(p);
  const days: [number, number][] = [];
  for (let i = 0; ; i++) {
    const start = zoned(p.timeZone, y, m, d + i);
    if (start >= p.end) break;
    days.push([start, zoned(p.timeZone, y, m, d + i + 1)]);
  }
  return days;
}

/** The local months of the (year) period as [start, end) instants (ms), with "YYYY-MM". */
export function monthsOf(p: Period): { start: number; end: number; key: string }[] {
  const [y, m] = firstDayFields(p);
  const months = [];
  for (let i = 0; ; i++) {
    const start = zoned(p.timeZone, y, m + i);
    if (start >= p.end) break;
    const date = new Date(Date.UTC(y, m - 1 + i, 1));
    const key = `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
    months.push({ start, end: zoned(p.timeZone, y, m + i + 1), key });
  }
  return months;
}

export interface Ticks {
  at: number[]; // unix seconds
  labels: string[];
}

/** The x axis of a period: every 3 hours of a day, each day of a week (its name and date), the
 *  days of a month (date), the months of a year (name and year). Never a tick on the right edge. */
export function axisTicks(p: Period): Ticks {
  const tz = p.timeZone;
  const format = (options: Intl.DateTimeFormatOptions) =>
    new Intl.DateTimeFormat(locale, { ...options, timeZone: tz });
  let at: number[];
  let label: Intl.DateTimeFormat;
  if (p.range === 'day') {
    const [y, m, d] = firstDayFields(p);
    at = [0, 3, 6, 9, 12, 15, 18, 21].map((h) => zoned(tz, y, m, d, h));
    label = format({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  } else if (p.range === 'week') {
    at = daysOf(p).map(([start]) => start);
    label = format({ weekday: 'short', day: 'numeric', month: 'short' });
  } else if (p.range === 'month') {
    at = daysOf(p).map(([start, end]) => (start + end) / 2);
    label = format({ day: 'numeric', month: 'short' });
  } else {
    at = monthsOf(p).map((month) => (month.start + month.end) / 2);
    label = format({ month: 'short', year: 'numeric' });
  }
  return { at: at.map((ms) => ms / 1000), labels: at.map((ms) => label.format(new Date(ms))) };
}

/** The period in words: "Tue, 8 Dec 2026", "7 – 13 Dec 2026", "December 2026", "2026". */
export function periodLabel(p: Period): string {
  const tz = p.timeZone;
  const date = (ms: number, options: Intl.DateTimeFormatOptions) =>
    new Intl.DateTimeFormat(locale, { ...options, timeZone: tz }).format(new Date(ms));
  if (p.range === 'day')
    return date(p.start, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
  if (p.range === 'week') {
    const last = p.end - 12 * 3600 * 1000;
    return new Intl.DateTimeFormat(locale, {
      timeZone: tz,
      day: 'numeric',
      month: 'short',
      year: 'numeric',
    }).formatRange(new Date(p.start), new Date(last));
  }
  if (p.range === 'month') return date(p.start, { month: 'long', year: 'numeric' });
  return date(p.start, { year: 'numeric' });
}

/** A time of day, or with its date when the period is longer than a day. */
export function moment(p: Period, ms: number): string {
  const options: Intl.DateTimeFormatOptions =
    p.range === 'day'
      ? { hour: '2-digit', minute: '2-digit' }
      : { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' };
  return new Intl.DateTimeFormat(locale, { ...options, timeZone: p.timeZone }).format(new Date(ms));
}
