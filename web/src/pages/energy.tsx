// Energy: live power, and for one period (the calendar day, week, month or year holding now, see
// energy/period.ts) the history per plug and stacked, its costs with the tariffs, the NAS's
// awake / asleep timeline, and what its sleeping saved. Every card asks for the same window, so
// their numbers agree.

import { useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { StackedChart, type ChartSeries } from '../components/chart';
import { Timeline } from '../components/timeline';
import { hasCounted, iso, moment, periodLabel, periodOf, type Period } from '../energy/period';
import { historyChart, STEP_SECONDS } from '../energy/series';
import { Badge, Card, Empty, ErrorNote, Loading, Stat } from '../components/ui';
import {
  drawWhile,
  isAsleep,
  isAwake,
  savings,
  segments,
  type Savings,
  type SavingsGap,
} from '../energy/savings';
import { clock, duration, energy, energyStep, money, percent, price, roundedParts, watts } from '../format';
import { useData } from '../hooks';
import { t, type Key } from '../i18n';
import type { Costs, CurrentPower, DeviceRef, History, NasHistory, Range, Summary } from '../types';

const RANGES: Range[] = ['day', 'week', 'month', 'year'];
const COLOURS = ['#2563eb', '#f59e0b', '#10b981', '#8b5cf6', '#ef4444', '#06b6d4', '#84cc16', '#ec4899'];
const LIVE_EVERY_MS = 5000; // never faster: the plugs are polled every ENERGY_POLL_SECONDS anyway
const LIVE_KEEP = 60; // readings kept for the live chart: five minutes
const DRAW_SAMPLE_MS = 31 * 86400 * 1000; // the longest window hourly history is asked for

export function colourOf(deviceId: number): string {
  return COLOURS[(deviceId - 1) % COLOURS.length];
}

/** The history of the period's counted window (null before its first closed hour). */
const historyIn = (p: Period, device?: number | null, range: Range = p.range, from = p.start) =>
  hasCounted(p)
    ? api<History>('/api/energy/history', {
        query: { range, device, from: iso(from), to: iso(p.until) },
      })
    : Promise.resolve(null);
const nasHistory = (from: number, to: number) =>
  api<NasHistory>('/api/nas/history', { query: { from: iso(from), to: iso(to) } });

export function Energy() {
  const [range, setRange] = useState<Range>('day');
  const [device, setDevice] = useState<number | null>(null);
  const costs = useData(() => api<Costs>('/api/energy/costs', { query: { period: range } }), [range]);
  const period = useMemo(() => (costs.data ? periodOf(costs.data) : null), [costs.data]);
  const all = useData(() => (period ? historyIn(period) : Promise.resolve(undefined)), [period]);
  const devices = costs.data?.devices ?? [];
  const nas = devices.find((d) => d.role === 'nas');
  const summary = useData(() => api<Summary>('/api/energy/summary'), []);
  // The live tiles' "today": on the Day tab the costs above are that very answer; asked apart only
  // on the other tabs.
  const onDay = range === 'day';
  const today = useData(
    () =>
      onDay ? Promise.resolve(undefined) : api<Costs>('/api/energy/costs', { query: { period: 'day' } }),
    [onDay],
  );
  return (
    <div class="grid two">
      <LivePower today={onDay ? costs.data : today.data} />
      <HistoryCard
        range={range}
        setRange={setRange}
        device={device}
        setDevice={setDevice}
        period={period}
        devices={devices}
        all={all.data}
        error={costs.error ?? all.error}
      />
      <CostsCard period={period} costs={costs.data} summary={summary.data} />
      <SavingsCard period={period} costs={costs.data} nas={nas} />
      <TimelineCard period={period} />
    </div>
  );
}

function RangeTabs(props: { range: Range; setRange: (r: Range) => void }) {
  return (
    <div class="segmented" role="tablist">
      {RANGES.map((r) => (
        <button
          key={r}
          type="button"
          role="tab"
          aria-selected={r === props.range}
          class={r === props.range ? 'active' : ''}
          onClick={() => props.setRange(r)}
        >
          {t(`range.${r}` as Key)}
        </button>
      ))}
    </div>
  );
}

/** "Tue, 8 Dec 2026 · counted up to 14:00" under a card's title. */
function PeriodNote(props: { period: Period | null; counted?: boolean }) {
  const p = props.period;
  if (!p) return null;
  return (
    <span class="muted small period-note" data-testid="period-note">
      {periodLabel(p)}
      {props.counted && hasCounted(p) && ` · ${t('period.countedUntil', { time: moment(p, p.until) })}`}
    </span>
  );
}

/** Each plug's energy today as the Day view counts it (the Pi's stored closed hours of the calendar
 *  day), not the plug's own counter, which runs on the plug's clock and disagreed with the Day costs
 *  beside it. On the Day tab it is the very answer the costs card shows. */
function todayOf(day: Costs | undefined): { wh: Map<number, number>; until: string } | null {
  if (!day) return null;
  const p = periodOf(day);
  return { wh: new Map(day.by_device.map((d) => [d.id, d.energy_wh])), until: moment(p, p.until) };
}

/** An energy whose number never wraps away from its unit in a narrow tile. */
const unbroken = (wh: number) => energy(wh).replace(' ', '\u00a0');

function LivePower(props: { today: Costs | undefined }) {
  const readings = useRef<{ at: number; power: Map<number, number | null> }[]>([]);
  const current = useData(
    async () => {
      const answer = await api<CurrentPower>('/api/energy/current');
      const power = new Map(answer.devices.map((d) => [d.device_id, d.online ? d.power_w : null]));
      readings.current = [...readings.current, { at: Date.parse(answer.timestamp) / 1000, power }].slice(
        -LIVE_KEEP,
      );
      return answer;
    },
    [],
    LIVE_EVERY_MS,
  );
  const now = current.data;
  const today = useMemo(() => todayOf(props.today), [props.today]);

  const chart = useMemo(() => {
    if (!now || readings.current.length < 2) return null;
    const series: ChartSeries[] = now.devices.map((d) => ({
      label: d.name,
      color: colourOf(d.device_id),
      values: readings.current.map((r) => r.power.get(d.device_id) ?? null),
    }));
    const x = readings.current.map((r) => r.at);
    const end = x[x.length - 1];
    return { x, series, range: [end - LIVE_KEEP * (LIVE_EVERY_MS / 1000), end] as [number, number] };
  }, [now]);

  return (
    <Card
      wide
      title={t('live.title')}
      testId="live-card"
      action={
        now && (
          <span class="live-total">
            <strong data-testid="live-total">{t('live.total', { power: watts(now.total_power_w) })}</strong>
            <span class="muted small">{t('live.updated', { time: clock(now.timestamp) })}</span>
          </span>
        )
      }
    >
      {!now && !current.error && <Loading />}
      <ErrorNote error={current.error} />
      {now && now.devices.length === 0 && <Empty>{t('live.noPlugs')}</Empty>}
      {now && now.devices.length > 0 && (
        <>
          <div class="tiles">
            {now.devices.map((d) => (
              <div
                class="tile"
                key={d.device_id}
                data-testid={`live-${d.device_id}`}
                style={{ borderTopColor: colourOf(d.device_id) }}
              >
                <div class="tile-name">
                  {d.name}
                  {t(`role.${d.role}` as Key).toLowerCase() !== d.name.toLowerCase() && (
                    <span class="muted small"> · {t(`role.${d.role}` as Key)}</span>
                  )}
                </div>
                <div class="tile-value" data-testid="live-power">
                  {watts(d.power_w)}
                </div>
                <div class="tile-foot">
                  {d.online ? (
                    d.is_on === false ? (
                      <Badge tone="idle">{t('plug.off')}</Badge>
                    ) : (
                      <Badge tone="good">{t('plug.online')}</Badge>
                    )
                  ) : (
                    <Badge tone="bad">{t('plug.offline')}</Badge>
                  )}
                  {today && (
                    <span class="muted small" data-testid="live-today">
                      {t('live.today', {
                        energy: unbroken(today.wh.get(d.device_id) ?? 0),
                        time: today.until,
                      })}
                    </span>
                  )}
                </div>
              </div>
            ))}
          </div>
          {chart && (
            <StackedChart
              x={chart.x}
              xRange={chart.range}
              series={chart.series}
              kind="area"
              unit="W"
              timeZone={Intl.DateTimeFormat().resolvedOptions().timeZone}
              height={160}
              testId="live-chart"
            />
          )}
        </>
      )}
    </Card>
  );
}

function HistoryCard(props: {
  range: Range;
  setRange: (r: Range) => void;
  device: number | null;
  setDevice: (d: number | null) => void;
  period: Period | null;
  devices: DeviceRef[];
  all: History | null | undefined;
  error: unknown;
}) {
  const p = props.period;
  const one = useData(
    () => (props.device === null || !p ? Promise.resolve(undefined) : historyIn(p, props.device)),
    [p, props.device],
  );
  const data = props.device === null ? props.all : one.data;
  const chart = useMemo(() => (data && p ? historyChart(data, p, colourOf) : null), [data, p]);

  return (
    <Card
      wide
      title={t('history.title')}
      testId="history-card"
      action={<RangeTabs range={props.range} setRange={props.setRange} />}
    >
      <div class="row between wrap">
        <p class="muted small">
          {chart?.per === 'month'
            ? t('history.energyPerMonth')
            : chart?.per === 'day'
              ? t('history.energyPerDay')
              : t('history.power')}
          {' · '}
          <PeriodNote period={p} counted />
        </p>
        <label class="inline device-pick">
          {t('history.device')}
          <select
            value={props.device ?? ''}
            onChange={(e) => props.setDevice(e.currentTarget.value ? Number(e.currentTarget.value) : null)}
          >
            <option value="">{t('history.allStacked')}</option>
            {props.devices.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={props.error ?? one.error} />
      {data === undefined && !props.error && <Loading />}
      {data === null && <Empty>{t('history.nothingCounted')}</Empty>}
      {data && !chart && <Empty>{t('history.empty')}</Empty>}
      {chart && (
        <>
          <StackedChart
            x={chart.x}
            xRange={chart.xRange}
            ticks={chart.ticks}
            series={chart.series}
            kind={chart.kind}
            unit={chart.unit}
            timeZone={chart.timeZone}
            monthly={chart.per === 'month'}
            testId="history-chart"
          />
          <p class="muted small">
            {t('history.total')} <strong data-testid="chart-total">{energy(chart.totalWh)}</strong>
          </p>
        </>
      )}
    </Card>
  );
}

function CostsCard(props: { period: Period | null; costs: Costs | undefined; summary: Summary | undefined }) {
  const summary = props.summary;
  const c = props.costs;
  const names = new Map((c?.devices ?? []).map((d) => [d.id, d]));
  // Rows rounded as their totals are shown, so that they add up to them on the page.
  const lines = c?.by_device ?? [];
  const shownWh = c
    ? roundedParts(
        lines.map((l) => l.energy_wh),
        c.total.energy_wh,
        energyStep(c.total.energy_wh),
      )
    : [];
  const shownCost = c
    ? roundedParts(
        lines.map((l) => l.cost),
        c.total.cost,
        0.01,
      )
    : [];
  const shownShare =
    c && c.total.cost > 0
      ? roundedParts(
          lines.map((l) => l.cost / c.total.cost),
          1,
          0.01,
        )
      : null;
  return (
    <Card title={t('costs.title')} testId="costs-card" action={<PeriodNote period={props.period} />}>
      {!c && <Loading />}
      {c && (
        <table class="table">
          <thead>
            <tr>
              <th>{t('costs.device')}</th>
              <th class="num">{t('costs.energy')}</th>
              <th class="num">{t('costs.cost')}</th>
              <th class="num">{t('costs.share')}</th>
            </tr>
          </thead>
          <tbody>
            {lines.map((line, i) => (
              <tr key={line.id} data-testid={`costs-${line.id}`}>
                <td class="name-cell">
                  <i class="swatch" style={{ background: colourOf(line.id) }} />
                  {names.get(line.id)?.name ?? `#${line.id}`}
                </td>
                <td class="num">{energy(shownWh[i])}</td>
                <td class="num">{money(shownCost[i], c.currency)}</td>
                <td class="num">{percent(shownShare ? shownShare[i] : null)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th>{t('costs.total')}</th>
              <th class="num" data-testid="costs-energy">
                {energy(c.total.energy_wh)}
              </th>
              <th class="num" data-testid="costs-total">
                {money(c.total.cost, c.currency)}
              </th>
              <th />
            </tr>
          </tfoot>
        </table>
      )}
      {props.period && hasCounted(props.period) && (
        <p class="muted small">
          {t('costs.countedUntil', { time: moment(props.period, props.period.until) })}
        </p>
      )}
      {c && c.total.unpriced_energy_wh > 0 && (
        <p class="note warn">{t('costs.unpriced', { energy: energy(c.total.unpriced_energy_wh) })}</p>
      )}
      {summary && (
        <p class="muted small" data-testid="month-projected">
          {t('costs.projected', {
            cost: money(summary.total.month_projected.cost, summary.currency),
            energy: energy(summary.total.month_projected.energy_wh),
          })}
        </p>
      )}
    </Card>
  );
}

interface SavingsView {
  result: Savings | SavingsGap;
  awakeSeconds: number;
  asleepSeconds: number;
}

/** The NAS's energy price in the period, per Wh: its cost over its priced energy. */
function nasPrice(costs: Costs, nas: DeviceRef): number | null {
  const line = costs.by_device.find((d) => d.id === nas.id);
  const priced = line ? line.energy_wh - line.unpriced_energy_wh : 0;
  return line && priced > 0 ? line.cost / priced : null;
}

async function loadSavings(p: Period, costs: Costs, nas: DeviceRef): Promise<SavingsView | 'nothingCounted'> {
  if (!hasCounted(p)) return 'nothingCounted';
  const link = await nasHistory(p.start, p.until);
  const parts = segments(link);
  const known = parts
    .filter((s) => s.state !== 'unknown')
    .reduce((sum, s) => sum + (s.end - s.start) / 1000, 0);
  // The draws: five-minute slots for a day, hours otherwise (at most the period's last 31 days).
  const sample =
    p.range === 'day'
      ? await historyIn(p, nas.id)
      : await historyIn(p, nas.id, 'week', Math.max(p.start, p.until - DRAW_SAMPLE_MS));
  const points = sample?.series[0]?.points ?? [];
  const step = sample ? STEP_SECONDS[sample.resolution] : 3600;
  return {
    result: savings(
      link.asleep_seconds,
      known,
      drawWhile(points, step, parts, isAwake),
      drawWhile(points, step, parts, isAsleep),
      nasPrice(costs, nas),
    ),
    awakeSeconds: link.awake_seconds,
    asleepSeconds: link.asleep_seconds,
  };
}

function SavingsCard(props: { period: Period | null; costs: Costs | undefined; nas: DeviceRef | undefined }) {
  const { period: p, costs, nas } = props;
  const view = useData(
    () => (nas && p && costs ? loadSavings(p, costs, nas) : Promise.resolve(null)),
    [p, nas?.id],
  );
  const v = view.data;
  const currency = costs?.currency ?? null;
  const result = v && v !== 'nothingCounted' ? v.result : null;
  return (
    <Card title={t('savings.title')} testId="savings-card" action={<PeriodNote period={p} counted />}>
      {v === undefined && !view.error && <Loading />}
      <ErrorNote error={view.error} />
      {costs && !nas && <Empty>{t('savings.noNasPlug')}</Empty>}
      {v === 'nothingCounted' && <Empty>{t('history.nothingCounted')}</Empty>}
      {typeof result === 'string' && (
        <p class="empty" data-testid="savings-gap">
          {t(`savings.gap.${result}` as Key)}
        </p>
      )}
      {v && v !== 'nothingCounted' && result && typeof result !== 'string' && (
        <>
          <div class="stats">
            <Stat
              label={t('savings.saved')}
              value={<span data-testid="saved-energy">{energy(result.savedWh)}</span>}
            />
            <Stat
              label={t('savings.savedMoney')}
              value={
                <span data-testid="saved-money">
                  {result.savedMoney === null ? '–' : money(result.savedMoney, currency)}
                </span>
              }
            />
            <Stat
              label={t('savings.asleep')}
              value={<span data-testid="savings-asleep">{duration(v.asleepSeconds)}</span>}
              hint={t('savings.awake', { time: duration(v.awakeSeconds) })}
            />
            <Stat
              label={t('savings.draws')}
              value={watts(result.awakeDraw)}
              hint={t('savings.asleepDraw', { power: watts(result.asleepDraw) })}
            />
          </div>
          <p class="muted small assumption">
            {t('savings.assumption', {
              price: result.pricePerWh === null ? '–' : price(result.pricePerWh * 1000, currency),
            })}
          </p>
        </>
      )}
    </Card>
  );
}

function TimelineCard(props: { period: Period | null }) {
  const p = props.period;
  const link = useData(() => (p ? nasHistory(p.start, p.now) : Promise.resolve(undefined)), [p]);
  const parts = useMemo(() => (link.data ? segments(link.data) : []), [link.data]);
  const l = link.data;
  return (
    <Card wide title={t('timeline.title')} testId="timeline-card" action={<PeriodNote period={p} />}>
      <ErrorNote error={link.error} />
      {!l && !link.error && <Loading />}
      {l && p && (
        <>
          <Timeline parts={parts} period={p} />
          <p class="muted small" data-testid="timeline-summary">
            {t('timeline.summary', {
              awake: duration(l.awake_seconds),
              asleep: duration(l.asleep_seconds),
              changes: l.transitions.filter((tr) => Date.parse(tr.at) >= Date.parse(l.from)).length,
            })}
          </p>
        </>
      )}
    </Card>
  );
}
