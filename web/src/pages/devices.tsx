// Devices: the Tapo plugs. Everyone sees them; admins rename them, set their role, switch them
// (after a confirmation, and never cutting the NAS's power while it runs unless forced), discover
// and add them.

import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { Badge, Card, Dialog, Empty, ErrorNote, Loading, errorText, useAction } from '../components/ui';
import { ago, watts } from '../format';
import { useData } from '../hooks';
import { t, type Key } from '../i18n';
import { plainText } from '../messages';
import { session } from '../session';
import type { DiscoveryAnswer, NasStatus, Plug, Role } from '../types';
import { nasStateText } from './overview';

const ROLES: Role[] = ['nas', 'monitor', 'generic'];

export function Devices() {
  const plugs = useData(() => api<{ devices: Plug[] }>('/api/tapo/devices'), [], 10000);
  const nas = useData(() => api<NasStatus>('/api/nas/status'), [], 10000);
  const admin = session.isAdmin();
  const list = plugs.data?.devices;
  return (
    <div class="grid">
      <Card wide title={t('devices.title')} testId="plugs-card">
        {!admin && <p class="note info">{t('devices.readOnly')}</p>}
        {!list && !plugs.error && <Loading />}
        <ErrorNote error={plugs.error} />
        {list && list.length === 0 && <Empty>{t('devices.none')}</Empty>}
        {list && list.length > 0 && (
          <div class="plugs">
            {list.map((plug) => (
              <PlugRow key={plug.id} plug={plug} admin={admin} nas={nas.data} onChange={plugs.reload} />
            ))}
          </div>
        )}
      </Card>
      {admin && <AddPlug onAdded={plugs.reload} />}
      {admin && <Discover onFound={plugs.reload} />}
    </div>
  );
}

function PlugRow(props: {
  plug: Plug;
  admin: boolean;
  nas: NasStatus | undefined;
  onChange: () => Promise<void>;
}) {
  const { plug } = props;
  const [name, setName] = useState<string | null>(null); // null: not renaming
  const [confirm, setConfirm] = useState(false);
  const change = useAction();
  const on = plug.live?.is_on ?? null;

  async function update(body: { name?: string; role?: Role }) {
    const done = await change.run(() => api<Plug>(`/api/tapo/devices/${plug.id}`, { method: 'PUT', body }));
    if (done) {
      setName(null);
      await props.onChange();
    }
  }

  return (
    <div class="plug" data-testid={`plug-${plug.id}`}>
      <div class="plug-main">
        {name === null ? (
          <h3 class="plug-name">
            {plug.name}
            {props.admin && (
              <button type="button" class="button small ghost" onClick={() => setName(plug.name)}>
                {t('devices.rename')}
              </button>
            )}
          </h3>
        ) : (
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault();
              void update({ name });
            }}
          >
            <input
              aria-label={t('devices.name')}
              value={name}
              required
              maxLength={255}
              onInput={(e) => setName(e.currentTarget.value)}
            />
            <button type="submit" class="button small primary" disabled={change.busy}>
              {t('common.save')}
            </button>
            <button type="button" class="button small" onClick={() => setName(null)}>
              {t('common.cancel')}
            </button>
          </form>
        )}
        <div class="muted small">
          {plug.model ?? 'Tapo'} · {plug.host}
          {plug.port ? `:${plug.port}` : ''} · {plug.mac}
        </div>
        <div class="plug-state">
          {plug.is_online ? (
            <Badge tone="good">{t('plug.online')}</Badge>
          ) : (
            <Badge tone="bad">{t('plug.offline')}</Badge>
          )}
          {on !== null && (
            <Badge tone={on ? 'info' : 'idle'} testId="plug-switch">
              {on ? t('plug.on') : t('plug.off')}
            </Badge>
          )}
          <span class="muted small">{t('devices.seen', { when: ago(plug.last_seen_at) })}</span>
        </div>
        {plug.last_error && <p class="muted small">{plainText(plug.last_error)}</p>}
      </div>
      <div class="plug-power">{watts(plug.live?.power_w)}</div>
      <div class="plug-actions">
        <label class="inline">
          {t('devices.role')}
          <select
            value={plug.role}
            disabled={!props.admin || change.busy}
            onChange={(e) => void update({ role: e.currentTarget.value as Role })}
          >
            {ROLES.map((role) => (
              <option key={role} value={role}>
                {t(`role.${role}` as Key)}
              </option>
            ))}
          </select>
        </label>
        {props.admin && (
          <button
            type="button"
            class={on ? 'button danger-outline' : 'button'}
            data-testid="toggle"
            onClick={() => setConfirm(true)}
          >
            {on ? t('devices.switchOff') : t('devices.switchOn')}
          </button>
        )}
      </div>
      <ErrorNote error={change.error} />
      {confirm && (
        <ToggleDialog
          plug={plug}
          on={on}
          nas={props.nas}
          onClose={() => setConfirm(false)}
          onDone={props.onChange}
        />
      )}
    </div>
  );
}

/** The confirmation before switching; for an awake NAS's plug, a warning and an explicit force. */
function ToggleDialog(props: {
  plug: Plug;
  on: boolean | null;
  nas: NasStatus | undefined;
  onClose: () => void;
  onDone: () => Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [refused, setRefused] = useState<string | null>(null);
  const switchingOff = props.on !== false;
  const nasState = props.nas?.state;
  const nasRuns =
    props.plug.role === 'nas' && switchingOff && nasState !== 'sleeping' && nasState !== 'offline';
  const mustForce = nasRuns || refused !== null;

  async function go(force: boolean) {
    setBusy(true);
    setError(undefined);
    try {
      const body = { on: !switchingOff, force };
      await api<Plug>(`/api/tapo/devices/${props.plug.id}/toggle`, { method: 'POST', body });
      props.onClose();
      await props.onDone();
    } catch (exc) {
      // BaluPi's own safety rule (the NAS runs): say why, and offer to force it.
      if (exc instanceof ApiError && exc.status === 409) setRefused(errorText(exc));
      else setError(exc);
    } finally {
      setBusy(false);
    }
  }

  const title = switchingOff
    ? t('toggle.offTitle', { name: props.plug.name })
    : t('toggle.onTitle', { name: props.plug.name });
  return (
    <Dialog
      title={title}
      onCancel={props.onClose}
      actions={
        mustForce ? (
          <button
            type="button"
            class="button danger"
            data-testid="confirm-force"
            disabled={busy}
            onClick={() => go(true)}
          >
            {t('toggle.force')}
          </button>
        ) : (
          <button
            type="button"
            class="button primary"
            data-testid="confirm"
            disabled={busy}
            onClick={() => go(false)}
          >
            {switchingOff ? t('toggle.off') : t('toggle.on')}
          </button>
        )
      }
    >
      {mustForce ? (
        <p class="note bad" data-testid="nas-warning">
          {refused ?? t('toggle.nasRuns', { state: nasState ? nasStateText(nasState) : '?' })}
        </p>
      ) : (
        <p>{switchingOff ? t('toggle.offBody') : t('toggle.onBody')}</p>
      )}
      <ErrorNote error={error} />
    </Dialog>
  );
}

function AddPlug(props: { onAdded: () => Promise<void> }) {
  const [host, setHost] = useState('');
  const [port, setPort] = useState('');
  const [added, setAdded] = useState<string | null>(null);
  const add = useAction();

  async function submit(event: Event) {
    event.preventDefault();
    setAdded(null);
    const body = { host: host.trim(), port: port ? Number(port) : null };
    const plug = await add.run(() =>
      api<Plug & { created: boolean }>('/api/tapo/devices', { method: 'POST', body }),
    );
    if (plug) {
      setAdded(plug.created ? t('add.created', { name: plug.name }) : t('add.known', { name: plug.name }));
      setHost('');
      setPort('');
      await props.onAdded();
    }
  }

  return (
    <Card title={t('add.title')} testId="add-plug">
      <form class="stack" onSubmit={submit}>
        <div class="row">
          <label class="grow">
            {t('add.host')}
            <input
              name="host"
              required
              placeholder="192.168.1.31"
              value={host}
              onInput={(e) => setHost(e.currentTarget.value)}
            />
          </label>
          <label class="narrow">
            {t('add.port')}
            <input
              name="port"
              type="number"
              min={1}
              max={65535}
              placeholder="80"
              value={port}
              onInput={(e) => setPort(e.currentTarget.value)}
            />
          </label>
        </div>
        <button type="submit" class="button primary" disabled={add.busy}>
          {add.busy ? t('add.busy') : t('add.submit')}
        </button>
        {added && <p class="note good">{added}</p>}
        <ErrorNote error={add.error} />
        <p class="muted small">{t('add.hint')}</p>
      </form>
    </Card>
  );
}

function Discover(props: { onFound: () => Promise<void> }) {
  const [found, setFound] = useState<DiscoveryAnswer['found'] | null>(null);
  const discover = useAction();

  async function search() {
    setFound(null);
    const answer = await discover.run(() =>
      api<DiscoveryAnswer>('/api/tapo/devices/discover', { method: 'POST', body: { timeout_s: 5 } }),
    );
    if (answer) {
      setFound(answer.found);
      await props.onFound();
    }
  }

  return (
    <Card title={t('discover.title')} testId="discover">
      <p class="muted small">{t('discover.hint')}</p>
      <button type="button" class="button" disabled={discover.busy} onClick={search}>
        {discover.busy ? t('discover.busy') : t('discover.submit')}
      </button>
      <ErrorNote error={discover.error} />
      {found && found.length === 0 && <Empty>{t('discover.none')}</Empty>}
      {found && found.length > 0 && (
        <ul class="list">
          {found.map((f) => (
            <li key={f.host}>
              <strong>{f.device?.name ?? f.host}</strong>
              <span class="muted small">
                {f.host} · {f.error ?? (f.created ? t('discover.added') : t('discover.known'))}
              </span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
