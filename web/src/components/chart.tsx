// A stacked time chart on uPlot: areas (power over a day or week) or bars (energy per day).

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { locale, t } from '../i18n';
import { num } from '../format';

export interface ChartSeries {
  label: string;
  color: string;
  values: (number | null)[];
}

interface Props {
  x: number[]; // unix seconds
  series: ChartSeries[];
  kind: 'area' | 'bars';
  unit: string;
  timeZone: string;
  height?: number;
  /** The x range to show (unix seconds); the data's own span when left out. */
  xRange?: [number, number];
  /** One bar per month: ticks and the cursor name months. */
  monthly?: boolean;
  /** Fixed ticks (a period's hours, days or months), thinned to fit; uPlot's own when left out. */
  ticks?: { at: number[]; labels: string[] };
  testId?: string;
}

/** Every k-th label, k as small as lets the labels fit side by side in `width` CSS pixels. */
export function thinned(labels: string[], width: number): string[] {
  const widest = Math.max(0, ...labels.map((label) => label.length));
  const needed = widest * 7 + 14; // ~7 px a character at 12 px, and a gap
  const every = Math.max(1, Math.ceil((labels.length * needed) / Math.max(width, 1)));
  return labels.map((label, i) => (i % every === 0 ? label : ''));
}

// Tick steps in seconds: whole seconds, minutes, hours, days, weeks, months.
const INCREMENTS = [
  1,
  2,
  5,
  10,
  15,
  30,
  60,
  120,
  300,
  600,
  900,
  1800,
  3600,
  7200,
  10800,
  21600,
  43200,
  86400,
  2 * 86400,
  7 * 86400,
  14 * 86400,
  30 * 86400,
  91 * 86400,
  182 * 86400,
  365 * 86400,
];

/** Tick labels in the reader's language and the Pi's time zone: times, days or months. */
function tickFormat(timeZone: string, step: number): Intl.DateTimeFormat {
  const options: Intl.DateTimeFormatOptions =
    step < 60
      ? { hour: '2-digit', minute: '2-digit', second: '2-digit' }
      : step < 86400
        ? { hour: '2-digit', minute: '2-digit' }
        : step < 28 * 86400
          ? { day: 'numeric', month: 'short' }
          : { month: 'short', year: '2-digit' };
  return new Intl.DateTimeFormat(locale, { ...options, timeZone });
}

/** An opaque, lighter shade of `color` (#rrggbb), so stacked areas do not tint each other. */
function tint(color: string, amount: number): string {
  const channel = (i: number) => parseInt(color.slice(i, i + 2), 16);
  const mix = (c: number) => Math.round(c + (255 - c) * (1 - amount));
  return `rgb(${mix(channel(1))}, ${mix(channel(3))}, ${mix(channel(5))})`;
}

/** Running sums bottom-up; a slot where every series is missing stays missing. */
function stack(series: ChartSeries[]): (number | null)[][] {
  const sums: (number | null)[][] = [];
  let below: (number | null)[] = [];
  for (const s of series) {
    const row = s.values.map((v, i) => {
      const base = below[i] ?? null;
      if (v === null && base === null) return null;
      return (v ?? 0) + (base ?? 0);
    });
    sums.push(row);
    below = row;
  }
  return sums;
}

/** The data's span; for bars half a step more on each side, so the outer bars are whole. */
function xSpan(x: number[], bars: boolean): [number, number] {
  const first = x[0];
  const last = x[x.length - 1];
  const step = bars && x.length > 1 ? (last - first) / (x.length - 1) : 0;
  return first === last && !bars ? [first - 1, last + 1] : [first - step / 2, last + step / 2];
}

export function StackedChart(props: Props) {
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const sums = stack(props.series);
    const ticks = props.ticks;
    // uPlot draws series in order: the top of the stack first, each lower one over it.
    const order = props.series.map((_, i) => i).reverse();
    const cursorTime = new Intl.DateTimeFormat(
      locale,
      props.monthly
        ? { timeZone: props.timeZone, month: 'long', year: 'numeric' }
        : {
            timeZone: props.timeZone,
            weekday: 'short',
            day: 'numeric',
            month: 'short',
            ...(props.kind === 'area' ? { hour: '2-digit', minute: '2-digit' } : {}),
          },
    );
    const format = (v: number) => `${num(v, v !== 0 && Math.abs(v) < 10 ? 1 : 0)} ${props.unit}`;
    const bars = uPlot.paths.bars!({ size: [0.7, 48], gap: 1 });
    const options: uPlot.Options = {
      width: element.clientWidth || 600,
      height: props.height ?? 260,
      // Room on the right, so the last tick's label is never cut off.
      padding: [12, 28, 0, 0],
      // Where the plot area is and what it spans, for the browser tests that look at its pixels.
      hooks: {
        draw: [
          (u) => {
            const ratio = window.devicePixelRatio || 1;
            Object.assign(element.dataset, {
              plotLeft: String(u.bbox.left / ratio),
              plotTop: String(u.bbox.top / ratio),
              plotWidth: String(u.bbox.width / ratio),
              plotHeight: String(u.bbox.height / ratio),
              xMin: String(u.scales.x.min),
              xMax: String(u.scales.x.max),
            });
          },
        ],
      },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), props.timeZone),
      cursor: { points: { show: props.kind === 'area' }, drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: { range: () => props.xRange ?? xSpan(props.x, props.kind === 'bars') },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
      },
      axes: [
        {
          stroke: '#64748b',
          space: 64,
          incrs: INCREMENTS,
          ...(ticks ? { splits: () => ticks.at } : props.monthly ? { splits: () => props.x } : {}),
          grid: { stroke: '#eef2f6' },
          ticks: { stroke: '#e2e8f0' },
          values: (u, splits, _axis, _space, step) => {
            if (ticks) return thinned(ticks.labels, u.bbox.width / devicePixelRatio);
            const format = tickFormat(props.timeZone, props.monthly ? 30 * 86400 : step);
            return splits.map((ts) => format.format(new Date(ts * 1000)));
          },
        },
        {
          stroke: '#64748b',
          size: 64,
          grid: { stroke: '#eef2f6' },
          ticks: { show: false },
          values: (_u, splits) => {
            // As many decimals as the ticks need, the same for all: 0, 5, 10 or 0.2, 0.4.
            const digits = splits.every(Number.isInteger)
              ? 0
              : splits.every((v) => Number.isInteger(v * 10))
                ? 1
                : 2;
            return splits.map((v) => `${num(v, digits)} ${props.unit}`);
          },
        },
      ],
      series: [
        {
          label: t('chart.time'),
          value: (_u, ts) => (ts === null ? '–' : cursorTime.format(new Date(ts * 1000))),
        },
        ...order.map((i) => ({
          label: props.series[i].label,
          stroke: props.series[i].color,
          width: props.kind === 'area' ? 1.5 : 0,
          fill: tint(props.series[i].color, props.kind === 'area' ? 0.45 : 0.9),
          paths: props.kind === 'bars' ? bars : undefined,
          points: { show: false },
          // The legend shows each device's own value, not the running sum drawn.
          value: (_u: uPlot, _v: number | null, _s: number, idx: number | null) => {
            const raw = idx === null ? null : props.series[i].values[idx];
            return raw === null || raw === undefined ? '–' : format(raw);
          },
        })),
      ],
    };
    const plot = new uPlot(options, [props.x, ...order.map((i) => sums[i])] as uPlot.AlignedData, element);
    const resize = new ResizeObserver(() => {
      if (element.clientWidth && element.clientWidth !== plot.width) {
        plot.setSize({ width: element.clientWidth, height: plot.height });
      }
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [
    props.x,
    props.series,
    props.kind,
    props.unit,
    props.timeZone,
    props.height,
    props.xRange?.[0],
    props.xRange?.[1],
    props.monthly,
    props.ticks,
  ]);

  return <div class="chart" ref={box} data-testid={props.testId} />;
}
