// Numbers, sizes, money and times in the reader's language.

import { locale, t } from './i18n';

const numberFormats = new Map<number, Intl.NumberFormat>();

export function num(value: number, digits = 0): string {
  let format = numberFormats.get(digits);
  if (!format) {
    format = new Intl.NumberFormat(locale, {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
    numberFormats.set(digits, format);
  }
  return format.format(value);
}

export function watts(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (Math.abs(value) >= 1000) return `${num(value / 1000, 2)} kW`;
  return `${num(value, value < 10 ? 1 : 0)} W`;
}

export function energy(wh: number): string {
  const step = energyStep(wh);
  if (step >= 10) return `${num(wh / 1000, step === 1000 ? 0 : 2)} kWh`;
  return `${num(wh, step < 1 ? 1 : 0)} Wh`;
}

/** The step `energy(wh)` shows `wh` in, in Wh: 0.1 below 10 Wh, 1 Wh, 10 Wh (kWh with two
 * decimals), 1 kWh from 100 kWh on. */
export function energyStep(wh: number): number {
  if (Math.abs(wh) >= 100_000) return 1000;
  if (Math.abs(wh) >= 1000) return 10;
  return Math.abs(wh) < 10 ? 0.1 : 1;
}

/** `parts` rounded to multiples of `step` so that they add up to `total` rounded the same way
 * (the largest remainder method): the rows of a table then sum to the total it shows, where
 * rounding each on its own could show 347 + 219 beside 565. */
export function roundedParts(parts: number[], total: number, step: number): number[] {
  const units = parts.map((part) => part / step);
  const floors = units.map((unit) => Math.floor(unit + 1e-9));
  const missing = Math.round(total / step) - floors.reduce((sum, n) => sum + n, 0);
  if (missing < 0 || missing > parts.length) {
    return parts.map((part) => Math.round(part / step) * step); // parts that do not make the total
  }
  const largestRest = units
    .map((unit, i) => ({ rest: unit - floors[i], i }))
    .sort((a, b) => b.rest - a.rest)
    .slice(0, missing);
  for (const { i } of largestRest) floors[i] += 1;
  return floors.map((n) => n * step);
}

export function money(value: number, currency: string | null | undefined): string {
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency: currency || 'EUR',
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  }).format(value);
}

/** A price per kWh with the precision tariffs are quoted in (cents with one decimal). */
export function price(value: number, currency: string | null | undefined): string {
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency: currency || 'EUR',
    minimumFractionDigits: 2,
    maximumFractionDigits: 4,
  }).format(value);
}

export function bytes(value: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let amount = value;
  let unit = 0;
  while (amount >= 1024 && unit < units.length - 1) {
    amount /= 1024;
    unit++;
  }
  return `${num(amount, unit === 0 || amount >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function percent(ratio: number | null | undefined, digits = 0): string {
  if (ratio === null || ratio === undefined) return '–';
  return `${num(ratio * 100, digits)} %`;
}

/** "3 h 5 min", "42 s", "2 d 4 h". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} ${t('unit.days')} ${hours % 24} h` : `${days} ${t('unit.days')}`;
}

export function dateTime(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return '–';
  return new Date(iso).toLocaleString(locale, {
    timeZone,
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
  });
}

export function clock(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return '–';
  return new Date(iso).toLocaleTimeString(locale, {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function day(isoDate: string | null | undefined): string {
  if (!isoDate) return '–';
  const [y, m, d] = isoDate.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(locale, {
    timeZone: 'UTC',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
  });
}

const relativeFormat = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });

/** "3 minutes ago", "vor 2 Stunden". */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return t('common.never');
  const seconds = (new Date(iso).getTime() - now) / 1000;
  const steps: [Intl.RelativeTimeFormatUnit, number][] = [
    ['second', 60],
    ['minute', 60],
    ['hour', 24],
    ['day', 365],
  ];
  let value = seconds;
  for (const [unit, size] of steps) {
    if (Math.abs(value) < size) return relativeFormat.format(Math.round(value), unit);
    value /= size;
  }
  return relativeFormat.format(Math.round(value), 'year');
}
