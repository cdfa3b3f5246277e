// Tariffs: the prices per kWh with their dates and hours. Everyone sees them and this month's cost
// they give; admins add, change and remove them (BaluPi re-prices the hours they cover).

import { useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, Card, Dialog, Empty, ErrorNote, Loading, useAction } from '../components/ui';
import { day, energy, money, price } from '../format';
import { useData } from '../hooks';
import { t } from '../i18n';
import { session } from '../session';
import type { Costs, Tariff, TariffCreated, TariffInput } from '../types';

function today(): string {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
}

function inForce(tariff: Tariff, date: string): boolean {
  return tariff.valid_from <= date && (tariff.valid_until === null || date < tariff.valid_until);
}

function hours(tariff: Tariff): string {
  return tariff.starts_at && tariff.ends_at ? `${tariff.starts_at}–${tariff.ends_at}` : t('tariffs.allDay');
}

export function Tariffs() {
  const tariffs = useData(() => api<Tariff[]>('/api/energy/tariffs'), []);
  const month = useData(() => api<Costs>('/api/energy/costs', { query: { period: 'month' } }), []);
  const [editing, setEditing] = useState<number | 'new' | null>(null);
  const admin = session.isAdmin();
  const list = tariffs.data;
  const date = today();

  async function changed() {
    setEditing(null);
    await Promise.all([tariffs.reload(), month.reload()]);
  }

  return (
    <div class="grid">
      <Card
        wide
        title={t('tariffs.title')}
        testId="tariffs-card"
        action={
          admin &&
          editing === null && (
            <button
              type="button"
              class="button primary"
              data-testid="add-tariff"
              onClick={() => setEditing('new')}
            >
              {t('tariffs.add')}
            </button>
          )
        }
      >
        <div class="month-cost" data-testid="month-cost">
          <span class="muted">{t('tariffs.thisMonth')}</span>
          {month.data ? (
            <>
              <strong data-testid="month-cost-value">
                {money(month.data.total.cost, month.data.currency)}
              </strong>
              <span class="muted small">
                {t('tariffs.forEnergy', { energy: energy(month.data.total.energy_wh) })} ·{' '}
                {day(month.data.first_day)} – {day(month.data.last_day)}
              </span>
            </>
          ) : (
            <span class="muted">…</span>
          )}
        </div>
        <ErrorNote error={month.error} />
        {!admin && <p class="note info">{t('tariffs.readOnly')}</p>}
        {!list && !tariffs.error && <Loading />}
        <ErrorNote error={tariffs.error} />
        {editing === 'new' && <TariffForm onDone={changed} onCancel={() => setEditing(null)} />}
        {list && list.length === 0 && <Empty>{t('tariffs.none')}</Empty>}
        {list && list.length > 0 && (
          <ul class="tariffs">
            {list.map((tariff) =>
              editing === tariff.id ? (
                <li key={tariff.id}>
                  <TariffForm tariff={tariff} onDone={changed} onCancel={() => setEditing(null)} />
                </li>
              ) : (
                <li key={tariff.id} class="tariff" data-testid={`tariff-${tariff.id}`}>
                  <div class="tariff-main">
                    <div class="tariff-name">
                      {tariff.name}{' '}
                      {inForce(tariff, date) && <Badge tone="good">{t('tariffs.current')}</Badge>}
                    </div>
                    <div class="muted small">
                      {day(tariff.valid_from)} –{' '}
                      {tariff.valid_until ? day(tariff.valid_until) : t('tariffs.open')} · {hours(tariff)}
                    </div>
                  </div>
                  <div class="tariff-price" data-testid="tariff-price">
                    {price(tariff.price_per_kwh, tariff.currency)}
                    <span class="muted small"> / kWh</span>
                  </div>
                  {admin && (
                    <button
                      type="button"
                      class="button small"
                      data-testid="edit-tariff"
                      onClick={() => setEditing(tariff.id)}
                    >
                      {t('common.edit')}
                    </button>
                  )}
                </li>
              ),
            )}
          </ul>
        )}
        <p class="muted small">{t('tariffs.explain')}</p>
      </Card>
    </div>
  );
}

function TariffForm(props: { tariff?: Tariff; onDone: () => Promise<void>; onCancel: () => void }) {
  const old = props.tariff;
  const [form, setForm] = useState({
    name: old?.name ?? '',
    price: old ? String(old.price_per_kwh) : '',
    validFrom: old?.valid_from ?? today(),
    validUntil: old?.valid_until ?? '',
    startsAt: old?.starts_at ?? '',
    endsAt: old?.ends_at ?? '',
  });
  const save = useAction();
  const remove = useAction();
  // A new tariff that would end another one: what would change, until the admin confirms it.
  const [shortens, setShortens] = useState<{ body: TariffInput; superseded: Tariff[] } | null>(null);
  const set = (field: keyof typeof form) => (e: { currentTarget: HTMLInputElement }) =>
    setForm({ ...form, [field]: e.currentTarget.value });

  async function submit(event: Event) {
    event.preventDefault();
    const body: TariffInput = {
      name: form.name.trim(),
      price_per_kwh: Number(form.price.replace(',', '.')),
      currency: old?.currency ?? 'EUR',
      valid_from: form.validFrom,
      valid_until: form.validUntil || null,
      starts_at: form.startsAt || null,
      ends_at: form.endsAt || null,
    };
    if (old) {
      if (await save.run(() => api(`/api/energy/tariffs/${old.id}`, { method: 'PUT', body })))
        await props.onDone();
      return;
    }
    // Ask the API first what adding it would change; a tariff it would shorten needs a yes.
    const preview = await save.run(() =>
      api<TariffCreated>('/api/energy/tariffs', { method: 'POST', body, query: { dry_run: true } }),
    );
    if (!preview) return;
    if (preview.superseded.length > 0) setShortens({ body, superseded: preview.superseded });
    else await create(body);
  }

  async function create(body: TariffInput) {
    setShortens(null);
    if (await save.run(() => api('/api/energy/tariffs', { method: 'POST', body }))) await props.onDone();
  }

  async function drop() {
    if (!old) return;
    const done = await remove.run(() => api(`/api/energy/tariffs/${old.id}`, { method: 'DELETE' }));
    if (done) await props.onDone();
  }

  return (
    <form class="tariff-form" data-testid="tariff-form" onSubmit={submit}>
      <div class="form-grid">
        <label>
          {t('tariffs.name')}
          <input name="name" required maxLength={255} value={form.name} onInput={set('name')} />
        </label>
        <label>
          {t('tariffs.pricePerKwh')}
          <input
            name="price"
            required
            inputMode="decimal"
            pattern="[0-9]+([.,][0-9]+)?"
            value={form.price}
            onInput={set('price')}
          />
        </label>
        <label>
          {t('tariffs.from')}
          <input name="valid_from" type="date" required value={form.validFrom} onInput={set('validFrom')} />
        </label>
        <label>
          {t('tariffs.until')}
          <input name="valid_until" type="date" value={form.validUntil} onInput={set('validUntil')} />
        </label>
        <label>
          {t('tariffs.startsAt')}
          <input name="starts_at" type="time" value={form.startsAt} onInput={set('startsAt')} />
        </label>
        <label>
          {t('tariffs.endsAt')}
          <input name="ends_at" type="time" value={form.endsAt} onInput={set('endsAt')} />
        </label>
      </div>
      <p class="muted small">{t('tariffs.formHint')}</p>
      <div class="row wrap">
        <button type="submit" class="button primary" data-testid="save-tariff" disabled={save.busy}>
          {t('common.save')}
        </button>
        <button type="button" class="button" onClick={props.onCancel}>
          {t('common.cancel')}
        </button>
        {old && (
          <button type="button" class="button danger-outline" disabled={remove.busy} onClick={drop}>
            {t('common.delete')}
          </button>
        )}
      </div>
      <ErrorNote error={save.error ?? remove.error} />
      {shortens && (
        <Dialog
          title={t('tariffs.confirmTitle')}
          onCancel={() => setShortens(null)}
          actions={
            <button
              type="button"
              class="button primary"
              data-testid="confirm-shorten"
              onClick={() => void create(shortens.body)}
            >
              {t('tariffs.confirm')}
            </button>
          }
        >
          {shortens.superseded.map((ended) => (
            <p key={ended.id} data-testid="shortened">
              {t('tariffs.confirmEnds', {
                name: ended.name,
                from: day(ended.valid_from),
                until: day(ended.valid_until),
              })}
            </p>
          ))}
        </Dialog>
      )}
    </form>
  );
}
