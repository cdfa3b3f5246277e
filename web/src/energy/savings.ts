// What sleeping saved: the NAS plug's measured energy against a NAS that never sleeps.
//
// Assumption (shown on the page): an always-on NAS would draw, around the clock, the average power
// its plug measured while the NAS link knew the NAS to be awake. The difference is priced at the
// average price the NAS's own energy cost in the same period (its tariffs, night rates included).

import type { HistoryPoint, NasHistory, NasState } from '../types';

export interface Segment {
  start: number; // ms
  end: number;
  state: NasState;
}

const AWAKE: ReadonlySet<NasState> = new Set(['online', 'shutting_down']);
const ASLEEP: ReadonlySet<NasState> = new Set(['sleeping', 'offline']);

export const isAwake = (state: NasState) => AWAKE.has(state);
export const isAsleep = (state: NasState) => ASLEEP.has(state);

/** The link's states as back-to-back segments inside [from, to]; before the first known: unknown. */
export function segments(history: NasHistory): Segment[] {
  const from = Date.parse(history.from);
  const to = Date.parse(history.to);
  const result: Segment[] = [];
  let cursor = from;
  let state: NasState = 'unknown';
  for (const transition of history.transitions) {
    const at = Math.min(Math.max(Date.parse(transition.at), from), to);
    if (at > cursor) result.push({ start: cursor, end: at, state });
    cursor = Math.max(cursor, at);
    state = transition.to;
  }
  if (to > cursor) result.push({ start: cursor, end: to, state });
  return result;
}

/** Seconds of [start, end) (ms) the NAS spent awake according to `parts`. */
function awakeSeconds(parts: Segment[], start: number, end: number): number {
  let total = 0;
  for (const part of parts) {
    if (!isAwake(part.state)) continue;
    const overlap = Math.min(end, part.end) - Math.max(start, part.start);
    if (overlap > 0) total += overlap;
  }
  return total / 1000;
}

function coveredSeconds(point: HistoryPoint, stepSeconds: number): number {
  if (point.covered_seconds > 0) return point.covered_seconds;
  return point.samples > 0 ? stepSeconds : 0;
}

/** The NAS plug's average draw over the points the NAS was awake for (at least 90 %) of. */
export function awakeDraw(points: HistoryPoint[], stepSeconds: number, parts: Segment[]): number | null {
  let wattSeconds = 0;
  let seconds = 0;
  for (const point of points) {
    const start = Date.parse(point.start);
    const covered = coveredSeconds(point, stepSeconds);
    if (covered === 0) continue;
    if (awakeSeconds(parts, start, start + stepSeconds * 1000) < 0.9 * stepSeconds) continue;
    wattSeconds += point.avg_power_w * covered;
    seconds += covered;
  }
  return seconds > 0 ? wattSeconds / seconds : null;
}

export interface Savings {
  hours: number; // measured hours in the period
  actualWh: number;
  alwaysOnWh: number;
  savedWh: number;
  pricePerWh: number | null;
  savedMoney: number | null;
}

/** What the priced points' energy cost per Wh on average; null if none is priced. */
export function averagePrice(points: HistoryPoint[]): number | null {
  let pricedWh = 0;
  let cost = 0;
  for (const point of points) {
    if (point.cost !== null && point.energy_wh > 0) {
      pricedWh += point.energy_wh;
      cost += point.cost;
    }
  }
  return pricedWh > 0 ? cost / pricedWh : null;
}

/** The period's savings; `fallbackPrice` (per Wh) where its own points carry no cost (raw ones). */
export function savings(
  points: HistoryPoint[],
  stepSeconds: number,
  draw: number,
  fallbackPrice: number | null,
): Savings {
  let seconds = 0;
  let actualWh = 0;
  for (const point of points) {
    const covered = coveredSeconds(point, stepSeconds);
    seconds += covered;
    actualWh += (point.avg_power_w * covered) / 3600;
  }
  const alwaysOnWh = (draw * seconds) / 3600;
  const savedWh = Math.max(0, alwaysOnWh - actualWh);
  const pricePerWh = averagePrice(points) ?? fallbackPrice;
  return {
    hours: seconds / 3600,
    actualWh,
    alwaysOnWh,
    savedWh,
    pricePerWh,
    savedMoney: pricePerWh === null ? null : savedWh * pricePerWh,
  };
}
