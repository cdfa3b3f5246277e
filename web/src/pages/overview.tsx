// Overview: the NAS (state, evidence, wake), the sync queue (with an upload), the Pi's health,
// the cache and the open alerts.

import { useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, Card, Empty, ErrorNote, Loading, Meter, Stat, useAction, type Tone } from '../components/ui';
import { ago, bytes, dateTime, duration, num, percent, watts } from '../format';
import { useData } from '../hooks';
import { t, type Key } from '../i18n';
import { evidenceText, sleepStateText } from '../messages';
import { navigate } from '../router';
import type {
  Alert,
  CacheStats,
  NasState,
  NasStatus,
  SyncFailure,
  SyncStatus,
  SystemStatus,
  UploadAnswer,
  WakeAnswer,
} from '../types';

export const NAS_TONE: Record<NasState, Tone> = {
  online: 'good',
  waking: 'warn',
  shutting_down: 'warn',
  sleeping: 'info',
  offline: 'bad',
  unknown: 'idle',
};

export function nasStateText(state: NasState): string {
  return t(`nas.state.${state}` as Key);
}

export function Overview() {
  return (
    <div class="columns">
      <div class="column">
        <NasCard />
        <SyncCard />
      </div>
      <div class="column">
        <AlertsCard />
        <PiCard />
        <CacheCard />
      </div>
    </div>
  );
}

function NasCard() {
  const status = useData(() => api<NasStatus>('/api/nas/status'), [], 5000);
  const wake = useAction();
  const [woken, setWoken] = useState<NasState | null>(null);
  const nas = status.data;
  const state = woken ?? nas?.state;

  async function pressWake() {
    const answer = await wake.run(() => api<WakeAnswer>('/api/nas/wol', { method: 'POST' }));
    if (answer) {
      setWoken(answer.state);
      await status.reload();
      setWoken(null);
    }
  }

  const canWake = state === 'sleeping' || state === 'offline' || state === 'unknown';
  const today = nas ? nas.today.awake_seconds + nas.today.asleep_seconds : 0;
  return (
    <Card
      title={t('nas.title')}
      testId="nas-card"
      action={
        nas?.configured &&
        (canWake || state === 'waking') && (
          <button
            type="button"
            class="button primary"
            data-testid="wake"
            disabled={!canWake || wake.busy}
            onClick={pressWake}
          >
            {state === 'waking' || wake.busy ? t('nas.waking') : t('nas.wake')}
          </button>
        )
      }
    >
      {!nas && !status.error && <Loading />}
      <ErrorNote error={status.error ?? wake.error} />
      {nas && !nas.configured && <Empty>{t('nas.notConfigured')}</Empty>}
      {nas && nas.configured && state && (
        <>
          <div class="nas-state">
            <Badge tone={NAS_TONE[state]} testId="nas-state">
              {nasStateText(state)}
            </Badge>
            <span class="muted" data-testid="nas-since">
              {t('nas.since', { when: dateTime(nas.since), ago: ago(nas.since) })}
            </span>
          </div>
          <p class="evidence">
            <span class="muted">{t('nas.evidence')}</span>{' '}
            <span title={nas.evidence} data-testid="nas-evidence">
              {evidenceText(nas.evidence)}
            </span>
          </p>
          <div class="stats">
            <Stat
              label={t('nas.power')}
              value={watts(nas.power_w)}
              hint={nas.power_class ? t(`power.${nas.power_class}` as Key) : undefined}
            />
            <Stat label={t('nas.lastSeen')} value={ago(nas.last_seen_at)} />
            <Stat label={t('nas.version')} value={nas.nas_version ?? '–'} />
            {nas.sleep.current_state && (
              <Stat
                label={t('nas.sleepState')}
                value={sleepStateText(nas.sleep.current_state)}
                hint={nas.sleep.state_since ? ago(nas.sleep.state_since) : undefined}
              />
            )}
            {nas.gate && (
              <Stat
                label={t('nas.requests')}
                value={t('nas.requestsValue', { count: String(nas.gate.requests_last_minute) })}
                hint={t('nas.requestsHint', {
                  user: String(nas.gate.requests_sent.user),
                  probe: String(nas.gate.requests_sent.probe),
                  wake: String(nas.gate.requests_sent.wake),
                  background: String(nas.gate.requests_sent.background),
                })}
              />
            )}
          </div>
          {today > 0 && (
            <div class="split" title={t('nas.today')}>
              <div class="split-label">
                <span>{t('nas.today')}</span>
                <span>
                  {t('nas.awakeFor', { time: duration(nas.today.awake_seconds) })} ·{' '}
                  {t('nas.asleepFor', { time: duration(nas.today.asleep_seconds) })}
                </span>
              </div>
              <div class="split-bar">
                <div class="awake" style={{ width: `${(100 * nas.today.awake_seconds) / today}%` }} />
                <div class="asleep" style={{ width: `${(100 * nas.today.asleep_seconds) / today}%` }} />
              </div>
            </div>
          )}
        </>
      )}
    </Card>
  );
}

function failureNote(failure: SyncFailure): string {
  if (failure.status === 'waiting_for_auth') return t('sync.waitingForAuth');
  if (failure.status === 'rejected') return t('sync.parkedNote', { error: failure.last_error ?? '' });
  return failure.last_error ?? '';
}

function SyncCard() {
  const status = useData(() => api<SyncStatus>('/api/files/sync/status'), [], 5000);
  const sync = status.data;
  return (
    <Card title={t('sync.title')} testId="sync-card">
      {!sync && !status.error && <Loading />}
      <ErrorNote error={status.error} />
      {sync && (
        <>
          <div class="power-off">
            {sync.safe_to_power_off ? (
              <Badge tone="good" testId="safe-to-power-off">
                {t('sync.safe')}
              </Badge>
            ) : (
              <Badge tone="warn" testId="safe-to-power-off">
                {sync.pending_count === 0 && sync.parked_count > 0
                  ? t('sync.notSafeParked')
                  : t('sync.notSafe')}
              </Badge>
            )}
          </div>
          <div class="stats">
            <Stat
              label={t('sync.pending')}
              value={<span data-testid="pending-count">{num(sync.pending_count)}</span>}
              hint={bytes(sync.pending_bytes)}
            />
            <Stat
              label={t('sync.oldest')}
              value={
                sync.oldest_pending_age_seconds === null ? '–' : duration(sync.oldest_pending_age_seconds)
              }
            />
            <Stat
              label={t('sync.last')}
              value={<span data-testid="last-sync">{ago(sync.last_successful_sync)}</span>}
            />
            <Stat
              label={t('sync.conflicts')}
              value={
                sync.open_conflicts > 0 ? (
                  <a
                    href="/conflicts"
                    class="warn-link"
                    onClick={(e) => (e.preventDefault(), navigate('conflicts'))}
                  >
                    {num(sync.open_conflicts)}
                  </a>
                ) : (
                  '0'
                )
              }
            />
            {sync.parked_count > 0 && (
              <Stat
                label={t('sync.parked')}
                value={<span data-testid="parked-count">{num(sync.parked_count)}</span>}
              />
            )}
          </div>
          {sync.failures.length > 0 && (
            <div class="failures">
              <h3>
                {sync.failures.length < sync.failure_count
                  ? t('sync.failuresOfAll', { count: sync.failures.length, total: sync.failure_count })
                  : t('sync.failures', { count: sync.failures.length })}
              </h3>
              <ul class="list">
                {sync.failures.slice(0, 5).map((f) => (
                  <li key={f.id}>
                    <span class="path">{f.path}</span>
                    <span class="muted small">
                      {failureNote(f)} · {t('sync.attempts', { count: f.attempts })}
                    </span>
                    {f.status === 'rejected' && <ParkedActions id={f.id} onDone={status.reload} />}
                  </li>
                ))}
              </ul>
            </div>
          )}
          <Upload onDone={status.reload} />
        </>
      )}
    </Card>
  );
}

// A change the NAS refused for good waits for a person: send it again, or give it up.
function ParkedActions(props: { id: number; onDone: () => Promise<void> }) {
  const action = useAction();
  async function settle(verb: 'retry' | 'discard') {
    const answer = await action.run(() =>
      api<{ message: string }>(`/api/files/sync/parked/${props.id}/${verb}`, { method: 'POST' }),
    );
    if (answer) await props.onDone();
  }
  return (
    <span class="row wrap">
      <button
        type="button"
        class="button"
        data-testid="parked-retry"
        disabled={action.busy}
        onClick={() => settle('retry')}
      >
        {t('sync.retry')}
      </button>
      <button
        type="button"
        class="button"
        data-testid="parked-discard"
        disabled={action.busy}
        onClick={() => settle('discard')}
      >
        {t('sync.discard')}
      </button>
      <ErrorNote error={action.error} />
    </span>
  );
}

function Upload(props: { onDone: () => Promise<void> }) {
  const [folder, setFolder] = useState('Shared');
  const [file, setFile] = useState<File | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const upload = useAction();

  async function submit(event: Event) {
    event.preventDefault();
    if (!file) return;
    const form = new FormData();
    form.append('file', file, file.name);
    form.append('path', folder);
    const answer = await upload.run(() =>
      api<UploadAnswer>('/api/files/upload', { method: 'POST', body: form }),
    );
    if (answer) {
      setDone(t('upload.accepted', { name: file.name, folder }));
      (event.target as HTMLFormElement).reset();
      setFile(null);
      await props.onDone();
    }
  }

  return (
    <form class="upload" onSubmit={submit}>
      <h3>{t('upload.title')}</h3>
      <div class="stack">
        <label>
          {t('upload.folder')}
          <input name="folder" value={folder} required onInput={(e) => setFolder(e.currentTarget.value)} />
        </label>
        <label>
          {t('upload.file')}
          <input
            name="file"
            type="file"
            required
            onChange={(e) => {
              setFile(e.currentTarget.files?.[0] ?? null);
              setDone(null);
            }}
          />
        </label>
      </div>
      <button class="button" type="submit" disabled={!file || upload.busy}>
        {upload.busy ? t('upload.busy') : t('upload.submit')}
      </button>
      {done && (
        <p class="note good" data-testid="upload-done">
          {done}
        </p>
      )}
      <ErrorNote error={upload.error} />
    </form>
  );
}

function PiCard() {
  const status = useData(() => api<SystemStatus>('/api/system/status'), [], 10000);
  const pi = status.data;
  return (
    <Card title={t('pi.title', { host: pi?.hostname ?? '' })} testId="pi-card">
      {!pi && !status.error && <Loading />}
      <ErrorNote error={status.error} />
      {pi && (
        <div class="gauges">
          <Gauge
            label={t('pi.cpu')}
            ratio={pi.cpu_percent / 100}
            value={percent(pi.cpu_percent / 100)}
            hint={t('pi.load', { load: pi.load_average.map((l) => num(l, 2)).join(' ') })}
          />
          <Gauge
            label={t('pi.memory')}
            ratio={pi.memory_percent / 100}
            value={percent(pi.memory_percent / 100)}
            hint={`${bytes(pi.memory_used_mb * 2 ** 20)} / ${bytes(pi.memory_total_mb * 2 ** 20)}`}
          />
          <Gauge
            label={t('pi.disk')}
            ratio={pi.disk.percent / 100}
            value={percent(pi.disk.percent / 100)}
            hint={`${bytes(pi.disk.used_bytes)} / ${bytes(pi.disk.total_bytes)}`}
          />
          <div class="stats">
            <Stat
              label={t('pi.temperature')}
              value={pi.temperature_c === null ? t('pi.noSensor') : `${num(pi.temperature_c, 1)} °C`}
            />
            <Stat label={t('pi.uptime')} value={duration(pi.uptime_seconds)} />
            <Stat
              label={t('pi.service')}
              value={bytes(pi.process_rss_mb * 2 ** 20)}
              hint={t('pi.serviceUp', { time: duration(pi.service_uptime_seconds) })}
            />
          </div>
        </div>
      )}
    </Card>
  );
}

function Gauge(props: { label: string; ratio: number; value: string; hint: string }) {
  return (
    <div class="gauge">
      <div class="gauge-head">
        <span>{props.label}</span>
        <strong>{props.value}</strong>
      </div>
      <Meter ratio={props.ratio} label={props.label} />
      <div class="muted small">{props.hint}</div>
    </div>
  );
}

function CacheCard() {
  const stats = useData(() => api<CacheStats>('/api/cache/stats'), [], 15000);
  const cache = stats.data;
  return (
    <Card title={t('cache.title')} testId="cache-card">
      {!cache && !stats.error && <Loading />}
      <ErrorNote error={stats.error} />
      {cache && (
        <>
          <div class="gauge">
            <div class="gauge-head">
              <span>{t('cache.used')}</span>
              <strong>
                {bytes(cache.bytes)} / {bytes(cache.budget_bytes)}
              </strong>
            </div>
            <Meter
              ratio={cache.budget_bytes ? cache.bytes / cache.budget_bytes : 0}
              warnAt={0.85}
              badAt={0.98}
              label={t('cache.used')}
            />
          </div>
          <div class="stats">
            <Stat
              label={t('cache.hitRatio')}
              value={percent(cache.hit_ratio)}
              hint={t('cache.hitsMisses', { hits: cache.requests.hits, misses: cache.requests.misses })}
            />
            <Stat label={t('cache.byteHitRatio')} value={percent(cache.byte_hit_ratio)} />
            <Stat
              label={t('cache.files')}
              value={num(cache.entries)}
              hint={t('cache.pinned', { count: cache.pinned })}
            />
            <Stat label={t('cache.dirty')} value={bytes(cache.dirty_bytes)} />
          </div>
          <h3>{t('cache.hottest')}</h3>
          {cache.hottest.length === 0 ? (
            <Empty>{t('cache.noHotFiles')}</Empty>
          ) : (
            <table class="table compact">
              <tbody>
                {cache.hottest.slice(0, 6).map((f) => (
                  <tr key={f.path}>
                    <td class="path">
                      {f.pinned && <span title={t('cache.pinnedFile')}>📌 </span>}
                      {f.path}
                    </td>
                    <td class="num">{bytes(f.size)}</td>
                    <td class="num">{t('cache.hits', { count: f.hits })}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </Card>
  );
}

function AlertsCard() {
  const alerts = useData(() => api<{ alerts: Alert[] }>('/api/energy/alerts'), [], 30000);
  const list = alerts.data?.alerts;
  return (
    <Card title={t('alerts.title')} testId="alerts-card">
      {!list && !alerts.error && <Loading />}
      <ErrorNote error={alerts.error} />
      {list && list.length === 0 && <Empty>{t('alerts.none')}</Empty>}
      {list && list.length > 0 && (
        <ul class="list">
          {list.map((a) => (
            <li key={a.id} class="alert">
              <Badge tone="warn">{t(`alert.${a.kind}` as Key)}</Badge>
              <span>{a.message}</span>
              <span class="muted small">
                {a.device_name ? `${a.device_name} · ` : ''}
                {dateTime(a.raised_at)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
