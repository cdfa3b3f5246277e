// What sleeping saved, from what was measured in the period: the time the NAS link knew the NAS
// to be asleep, times the difference between the NAS plug's draw while the NAS was awake and while
// it was asleep (each the plug's average over the slots the NAS spent wholly in that state). The
// energy is priced at what the NAS's own energy cost on average in the period (the Costs card's
// figures). Where a part is missing the card says which, instead of guessing.

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

/** Seconds of [start, end) (ms) the NAS spent in a state `is` accepts, according to `parts`. */
function secondsIn(parts: Segment[], start: number, end: number, is: (s: NasState) => boolean): number {
  let total = 0;
  for (const part of parts) {
    if (!is(part.state)) continue;
    const overlap = Math.min(end, part.end) - Math.max(start, part.start);
    if (overlap > 0) total += overlap;
  }
  return total / 1000;
}

function coveredSeconds(point: HistoryPoint, stepSeconds: number): number {
  if (point.covered_seconds > 0) return point.covered_seconds;
  return point.samples > 0 ? stepSeconds : 0;
}

/** The NAS plug's average draw over the points the NAS spent (at least 90 % of) in a state `is`
 *  accepts; null when there is no such point. */
export function drawWhile(
  points: HistoryPoint[],
  stepSeconds: number,
  parts: Segment[],
  is: (s: NasState) => boolean,
): number | null {
  let wattSeconds = 0;
  let seconds = 0;
  for (const point of points) {
    const start = Date.parse(point.start);
    const covered = coveredSeconds(point, stepSeconds);
    if (covered === 0) continue;
    if (secondsIn(parts, start, start + stepSeconds * 1000, is) < 0.9 * stepSeconds) continue;
    wattSeconds += point.avg_power_w * covered;
    seconds += covered;
  }
  return seconds > 0 ? wattSeconds / seconds : null;
}

export type SavingsGap = 'noRecord' | 'neverAwake' | 'noAsleepDraw';

export interface Savings {
  asleepSeconds: number;
  awakeDraw: number;
  asleepDraw: number;
  savedWh: number;
  pricePerWh: number | null;
  savedMoney: number | null;
}

/** The period's savings, or why they cannot be told. */
export function savings(
  asleepSeconds: number,
  knownSeconds: number,
  awakeDraw: number | null,
  asleepDraw: number | null,
  pricePerWh: number | null,
): Savings | SavingsGap {
  if (knownSeconds <= 0) return 'noRecord';
  if (awakeDraw === null) return 'neverAwake';
  if (asleepSeconds > 0 && asleepDraw === null) return 'noAsleepDraw';
  const savedWh = Math.max(0, (asleepSeconds / 3600) * (awakeDraw - (asleepDraw ?? 0)));
  return {
    asleepSeconds,
    awakeDraw,
    asleepDraw: asleepDraw ?? 0,
    savedWh,
    pricePerWh,
    savedMoney: pricePerWh === null ? null : savedWh * pricePerWh,
  };
}
