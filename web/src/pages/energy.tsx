// Energy: live power, history per plug and stacked, costs with the tariffs, the NAS's awake /
// asleep timeline, and what its sleeping saved.

import { useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { StackedChart, type ChartSeries } from '../components/chart';
import { Timeline } from '../components/timeline';
import { historyChart } from '../energy/series';
import { Badge, Card, Empty, ErrorNote, Loading, Stat } from '../components/ui';
import {
  averagePrice,
  awakeDraw,
  isAsleep,
  isAwake,
  savings,
  segments,
  type Savings,
} from '../energy/savings';
import { clock, day, duration, energy, money, num, percent, price, watts } from '../format';
import { useData } from '../hooks';
import { t, type Key } from '../i18n';
import type { Costs, CurrentPower, DeviceRef, History, NasHistory, Range, Summary } from '../types';

const RANGES: Range[] = ['day', 'week', 'month', 'year'];
const COLOURS = ['#2563eb', '#f59e0b', '#10b981', '#8b5cf6', '#ef4444', '#06b6d4', '#84cc16', '#ec4899'];
const STEP_SECONDS = { '5min': 300, hour: 3600, day: 86400 } as const;
const LIVE_EVERY_MS = 5000; // never faster: the plugs are polled every ENERGY_POLL_SECONDS anyway
const LIVE_KEEP = 60; // readings kept for the live chart: five minutes

export function colourOf(deviceId: number): string {
  return COLOURS[(deviceId - 1) % COLOURS.length];
}

const history = (range: Range, device?: number | null) =>
  api<History>('/api/energy/history', { query: { range, device } });
const nasHistory = (from: string, to: string) => api<NasHistory>('/api/nas/history', { query: { from, to } });

export function Energy() {
  const [range, setRange] = useState<Range>('day');
  const [device, setDevice] = useState<number | null>(null);
  const all = useData(() => history(range), [range]);
  const devices = all.data?.series.map((s) => s.device) ?? [];
  const nas = devices.find((d) => d.role === 'nas');
  const summary = useData(() => api<Summary>('/api/energy/summary'), []);
  return (
    <div class="grid two">
      <LivePower />
      <HistoryCard
        range={range}
        setRange={setRange}
        device={device}
        setDevice={setDevice}
        all={all.data}
        error={all.error}
      />
      <CostsCard range={range} summary={summary.data} />
      <SavingsCard range={range} nas={nas} currency={summary.data?.currency ?? null} />
      <TimelineCard range={range} all={all.data} />
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

function LivePower() {
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
                  {d.today_wh !== null && (
                    <span class="muted small">{t('live.today', { energy: energy(d.today_wh) })}</span>
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
  all: History | undefined;
  error: unknown;
}) {
  const one = useData(
    () => (props.device === null ? Promise.resolve(undefined) : history(props.range, props.device)),
    [props.range, props.device],
  );
  const data = props.device === null ? props.all : one.data;
  const chart = useMemo(() => (data ? historyChart(data, colourOf) : null), [data]);
  const devices = props.all?.series.map((s) => s.device) ?? [];

  return (
    <Card
      wide
      title={t('history.title')}
      testId="history-card"
      action={<RangeTabs range={props.range} setRange={props.setRange} />}
    >
      <div class="row between">
        <p class="muted small">
          {chart?.per === 'month'
            ? t('history.energyPerMonth')
            : chart?.per === 'day'
              ? t('history.energyPerDay')
              : t('history.power')}
        </p>
        <label class="inline">
          {t('history.device')}
          <select
            value={props.device ?? ''}
            onChange={(e) => props.setDevice(e.currentTarget.value ? Number(e.currentTarget.value) : null)}
          >
            <option value="">{t('history.allStacked')}</option>
            {devices.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={props.error ?? one.error} />
      {!data && !props.error && <Loading />}
      {data && !chart && <Empty>{t('history.empty')}</Empty>}
      {chart && (
        <StackedChart
          x={chart.x}
          series={chart.series}
          kind={chart.kind}
          unit={chart.unit}
          timeZone={chart.timeZone}
          monthly={chart.per === 'month'}
          testId="history-chart"
        />
      )}
    </Card>
  );
}

function CostsCard(props: { range: Range; summary: Summary | undefined }) {
  const costs = useData(
    () => api<Costs>('/api/energy/costs', { query: { period: props.range } }),
    [props.range],
  );
  const summary = props.summary;
  const c = costs.data;
  const names = new Map((c?.devices ?? []).map((d) => [d.id, d]));
  return (
    <Card
      title={t('costs.title')}
      testId="costs-card"
      action={
        c && (
          <span class="muted small">
            {day(c.first_day)} – {day(c.last_day)}
          </span>
        )
      }
    >
      {!c && !costs.error && <Loading />}
      <ErrorNote error={costs.error} />
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
            {c.by_device.map((line) => (
              <tr key={line.id}>
                <td>
                  <i class="swatch" style={{ background: colourOf(line.id) }} />
                  {names.get(line.id)?.name ?? `#${line.id}`}
                </td>
                <td class="num">{energy(line.energy_wh)}</td>
                <td class="num">{money(line.cost, c.currency)}</td>
                <td class="num">{percent(c.total.cost > 0 ? line.cost / c.total.cost : null)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th>{t('costs.total')}</th>
              <th class="num">{energy(c.total.energy_wh)}</th>
              <th class="num" data-testid="costs-total">
                {money(c.total.cost, c.currency)}
              </th>
              <th />
            </tr>
          </tfoot>
        </table>
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
  result: Savings;
  draw: number;
  asleepSeconds: number;
  awakeSeconds: number;
  knownSeconds: number; // of the period, what the NAS link has a record of
  periodSeconds: number;
}

async function loadSavings(range: Range, nas: DeviceRef): Promise<SavingsView | null> {
  // The awake draw: from the last week's hours, or failing that the last day's five minutes.
  // The price where the period's own points carry none (five-minute slots): the last week's.
  let draw: number | null = null;
  let weekPrice: number | null = null;
  let period: History | null = null;
  for (const sample of ['week', 'day'] as const) {
    const plug = await history(sample, nas.id);
    const link = await nasHistory(plug.from, plug.to);
    const points = plug.series[0]?.points ?? [];
    draw = awakeDraw(points, STEP_SECONDS[plug.resolution], segments(link));
    if (sample === 'week') weekPrice = averagePrice(points);
    if (sample === range) period = plug;
    if (draw !== null) break;
  }
  if (draw === null) return null;
  period ??= await history(range, nas.id);
  const link = await nasHistory(period.from, period.to);
  const parts = segments(link);
  const seconds = (pred: (s: (typeof parts)[number]['state']) => boolean) =>
    parts.filter((p) => pred(p.state)).reduce((sum, p) => sum + (p.end - p.start) / 1000, 0);
  return {
    result: savings(period.series[0]?.points ?? [], STEP_SECONDS[period.resolution], draw, weekPrice),
    draw,
    asleepSeconds: seconds(isAsleep),
    awakeSeconds: seconds(isAwake),
    knownSeconds: seconds((state) => state !== 'unknown'),
    periodSeconds: (Date.parse(link.to) - Date.parse(link.from)) / 1000,
  };
}

function SavingsCard(props: { range: Range; nas: DeviceRef | undefined; currency: string | null }) {
  const nas = props.nas;
  const view = useData(
    () => (nas ? loadSavings(props.range, nas) : Promise.resolve(null)),
    [props.range, nas?.id],
  );
  const v = view.data;
  return (
    <Card
      title={t('savings.title')}
      testId="savings-card"
      action={<span class="muted small">{t(`range.last.${props.range}` as Key)}</span>}
    >
      {view.data === undefined && !view.error && <Loading />}
      <ErrorNote error={view.error} />
      {!nas && <Empty>{t('savings.noNasPlug')}</Empty>}
      {nas && v === null && <Empty>{t('savings.notYet')}</Empty>}
      {v && (
        <>
          <div class="stats">
            <Stat
              label={t('savings.saved')}
              value={<span data-testid="saved-energy">{energy(v.result.savedWh)}</span>}
              hint={
                v.result.alwaysOnWh > 0
                  ? t('savings.ofAlwaysOn', { share: percent(v.result.savedWh / v.result.alwaysOnWh) })
                  : undefined
              }
            />
            <Stat
              label={t('savings.savedMoney')}
              value={
                <span data-testid="saved-money">
                  {v.result.savedMoney === null ? '–' : money(v.result.savedMoney, props.currency)}
                </span>
              }
            />
            <Stat
              label={t('savings.actual')}
              value={energy(v.result.actualWh)}
              hint={t('savings.alwaysOn', { energy: energy(v.result.alwaysOnWh) })}
            />
            <Stat
              label={t('savings.asleep')}
              value={duration(v.asleepSeconds)}
              hint={
                v.knownSeconds < 0.95 * v.periodSeconds
                  ? t('savings.awakeOfKnown', {
                      time: duration(v.awakeSeconds),
                      known: duration(v.knownSeconds),
                    })
                  : t('savings.awake', { time: duration(v.awakeSeconds) })
              }
            />
          </div>
          <p class="muted small assumption">
            {t('savings.assumption', {
              draw: watts(v.draw),
              price: v.result.pricePerWh === null ? '–' : price(v.result.pricePerWh * 1000, props.currency),
              hours: num(v.result.hours, 0),
            })}
          </p>
        </>
      )}
    </Card>
  );
}

function TimelineCard(props: { range: Range; all: History | undefined }) {
  const span = props.all ? { from: props.all.from, to: props.all.to } : null;
  const link = useData(
    () => (span ? nasHistory(span.from, span.to) : Promise.resolve(undefined)),
    [span?.from, span?.to],
  );
  const parts = useMemo(() => (link.data ? segments(link.data) : []), [link.data]);
  const l = link.data;
  return (
    <Card
      wide
      title={t('timeline.title')}
      testId="timeline-card"
      action={<span class="muted small">{t(`range.last.${props.range}` as Key)}</span>}
    >
      <ErrorNote error={link.error} />
      {!l && !link.error && <Loading />}
      {l && props.all && (
        <>
          <Timeline
            parts={parts}
            from={Date.parse(l.from)}
            to={Date.parse(l.to)}
            timeZone={props.all.timezone}
          />
          <p class="muted small">
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
