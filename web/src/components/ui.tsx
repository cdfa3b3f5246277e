// Small building blocks shared by the pages.

import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { lang, t, type Key } from '../i18n';
import { translatedError } from '../messages';

export type Tone = 'good' | 'warn' | 'bad' | 'info' | 'idle';

export function Card(props: {
  title: ComponentChildren;
  action?: ComponentChildren;
  wide?: boolean;
  testId?: string;
  children: ComponentChildren;
}) {
  return (
    <section class={props.wide ? 'card wide' : 'card'} data-testid={props.testId}>
      <header class="card-head">
        <h2>{props.title}</h2>
        {props.action}
      </header>
      {props.children}
    </section>
  );
}

export function Stat(props: {
  label: ComponentChildren;
  value: ComponentChildren;
  hint?: ComponentChildren;
  testId?: string;
}) {
  return (
    <div class="stat" data-testid={props.testId}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value">{props.value}</div>
      {props.hint !== undefined && <div class="stat-hint">{props.hint}</div>}
    </div>
  );
}

export function Badge(props: { tone: Tone; children: ComponentChildren; testId?: string }) {
  return (
    <span class={`badge ${props.tone}`} data-testid={props.testId}>
      <span class="dot" aria-hidden="true" />
      {props.children}
    </span>
  );
}

/** A bar filled to `ratio` (0…1), amber above `warnAt`, red above `badAt`. */
export function Meter(props: { ratio: number; warnAt?: number; badAt?: number; label?: string }) {
  const ratio = Math.min(1, Math.max(0, props.ratio));
  const tone = ratio >= (props.badAt ?? 0.95) ? 'bad' : ratio >= (props.warnAt ?? 0.8) ? 'warn' : 'good';
  return (
    <div
      class="meter"
      role="meter"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(ratio * 100)}
      aria-label={props.label}
    >
      <div class={`meter-fill ${tone}`} style={{ width: `${ratio * 100}%` }} />
    </div>
  );
}

/** What went wrong, as a plain sentence in the reader's language: a known refusal translated,
 *  otherwise (in German) a sentence for its status; never field names or exception text. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 0) return t('error.network');
    if (error.status === 403) return t('error.forbidden');
    if (error.invalid) return t('error.invalid');
    const known = translatedError(error.detail, error.code);
    if (known) return known;
    if (error.status === 503)
      return lang === 'en' ? `${t('error.unavailable')} ${error.detail}`.trim() : t('error.unavailable');
    if (lang === 'en' && error.detail && error.status < 500) return error.detail;
    return statusText(error.status);
  }
  return t('error.status.5xx');
}

function statusText(status: number): string {
  if (status >= 500 && status !== 502) return t('error.status.5xx');
  const key = `error.status.${status}` as Key;
  const text = t(key);
  return text === key ? t('error.status.other', { status }) : text;
}

export function ErrorNote(props: { error: unknown }) {
  if (!props.error) return null;
  return (
    <p class="note bad" role="alert">
      {errorText(props.error)}
    </p>
  );
}

export function Loading() {
  return <p class="muted">{t('common.loading')}</p>;
}

export function Empty(props: { children: ComponentChildren }) {
  return <p class="empty">{props.children}</p>;
}

/** A modal question with a cancel button and one or more actions. */
export function Dialog(props: {
  title: string;
  children: ComponentChildren;
  onCancel: () => void;
  actions: ComponentChildren;
}) {
  return (
    <div class="backdrop" onClick={(e) => e.target === e.currentTarget && props.onCancel()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-label={props.title}>
        <h3>{props.title}</h3>
        <div class="dialog-body">{props.children}</div>
        <div class="dialog-actions">
          <button type="button" class="button" onClick={props.onCancel}>
            {t('common.cancel')}
          </button>
          {props.actions}
        </div>
      </div>
    </div>
  );
}

/** Runs an action, remembering whether it is busy and how it failed. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  async function run<T>(action: () => Promise<T>): Promise<T | undefined> {
    setBusy(true);
    setError(undefined);
    try {
      return await action();
    } catch (exc) {
      setError(exc);
      return undefined;
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, run, clear: () => setError(undefined) };
}
