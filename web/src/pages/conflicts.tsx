// Conflicts: a file changed on the Pi (an upload) and on the NAS since the Pi last saw it, in a
// folder whose policy is "ask". Someone picks which version stays.

import { api } from '../api';
import { Badge, Card, Empty, ErrorNote, Loading, useAction } from '../components/ui';
import { bytes, dateTime } from '../format';
import { useData } from '../hooks';
import { t, type Key } from '../i18n';
import type { Conflict, Resolution } from '../types';

const CHOICES: Resolution[] = ['keep_server', 'keep_local', 'keep_both'];

export function Conflicts() {
  const conflicts = useData(() => api<{ conflicts: Conflict[] }>('/api/sync/conflicts'), [], 10000);
  const list = conflicts.data?.conflicts;
  const open = list?.filter((c) => c.status === 'open') ?? [];
  const settled = list?.filter((c) => c.status !== 'open') ?? [];
  return (
    <div class="grid">
      <Card wide title={t('conflicts.open', { count: open.length })} testId="open-conflicts">
        <p class="muted small">{t('conflicts.explain')}</p>
        {!list && !conflicts.error && <Loading />}
        <ErrorNote error={conflicts.error} />
        {list && open.length === 0 && <Empty>{t('conflicts.none')}</Empty>}
        {open.map((c) => (
          <OpenConflict key={c.id} conflict={c} onResolved={conflicts.reload} />
        ))}
      </Card>
      {settled.length > 0 && (
        <Card wide title={t('conflicts.settled')} testId="settled-conflicts">
          <table class="table">
            <thead>
              <tr>
                <th>{t('conflicts.file')}</th>
                <th>{t('conflicts.outcome')}</th>
                <th>{t('conflicts.when')}</th>
              </tr>
            </thead>
            <tbody>
              {settled.map((c) => (
                <tr key={c.id}>
                  <td class="path">
                    {c.path}
                    {c.conflict_copy_path && (
                      <div class="muted small">{t('conflicts.copy', { path: c.conflict_copy_path })}</div>
                    )}
                  </td>
                  <td>{c.resolution ? t(`resolution.${c.resolution}` as Key) : c.status}</td>
                  <td>{dateTime(c.resolved_at ?? c.detected_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
    </div>
  );
}

function OpenConflict(props: { conflict: Conflict; onResolved: () => Promise<void> }) {
  const c = props.conflict;
  const resolve = useAction();

  async function choose(resolution: Resolution) {
    const done = await resolve.run(() =>
      api<Conflict>(`/api/sync/conflicts/${c.id}/resolve`, { method: 'POST', body: { resolution } }),
    );
    if (done) await props.onResolved();
  }

  return (
    <div class="conflict" data-testid={`conflict-${c.id}`}>
      <div class="conflict-head">
        <span class="path">{c.path}</span>
        <Badge tone="warn">{t('conflicts.detected', { when: dateTime(c.detected_at) })}</Badge>
      </div>
      <div class="versions">
        <div class="version">
          <h4>{t('conflicts.piVersion')}</h4>
          <div>{c.local_size === null ? '–' : bytes(c.local_size)}</div>
          <Hash value={c.local_sha256} />
        </div>
        <div class="version">
          <h4>{t('conflicts.nasVersion')}</h4>
          <div>
            {c.remote_size === null ? '–' : bytes(c.remote_size)}
            {c.remote_modified_at && <span class="muted small"> · {dateTime(c.remote_modified_at)}</span>}
          </div>
          <Hash value={c.remote_sha256} />
        </div>
      </div>
      <div class="row wrap">
        {CHOICES.map((choice) => (
          <button
            key={choice}
            type="button"
            class="button"
            data-testid={choice}
            disabled={resolve.busy}
            onClick={() => choose(choice)}
          >
            {t(`resolve.${choice}` as Key)}
          </button>
        ))}
      </div>
      <ErrorNote error={resolve.error} />
    </div>
  );
}

function Hash(props: { value: string | null }) {
  return (
    <code class="muted small" title={props.value ?? undefined}>
      {props.value ? t('conflicts.sha', { hash: props.value.slice(0, 12) }) : t('conflicts.noSha')}
    </code>
  );
}
