// Login through the Pi: it asks the NAS while it is awake, and checks the password itself while
// the NAS sleeps, for users who logged in through it before.

import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { errorText, useAction } from '../components/ui';
import { t } from '../i18n';
import { session } from '../session';
import type { LoginAnswer } from '../types';

function loginError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return t('login.wrong');
    if (error.status === 503) return t('login.unknownWhileAsleep');
    if (error.status === 429) return t('login.tooMany');
  }
  return errorText(error);
}

export function Login() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const login = useAction();
  const ended = session.endReason();

  async function submit(event: Event) {
    event.preventDefault();
    const answer = await login.run(() =>
      api<LoginAnswer>('/api/auth/login', { method: 'POST', body: { username, password } }),
    );
    if (answer?.access_token) session.start(answer.access_token, answer.user);
  }

  return (
    <div class="login">
      <form class="login-card" onSubmit={submit}>
        <div class="login-brand">
          <span class="logo big" aria-hidden="true" />
          <div>
            <h1>BaluPi</h1>
            <p class="muted">{t('login.tagline')}</p>
          </div>
        </div>
        {ended === 'expired' && !login.error && <p class="note warn">{t('login.expired')}</p>}
        <label>
          {t('login.username')}
          <input
            name="username"
            autocomplete="username"
            required
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </label>
        <label>
          {t('login.password')}
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {login.error !== undefined && (
          <p class="note bad" role="alert">
            {loginError(login.error)}
          </p>
        )}
        <button class="button primary" type="submit" disabled={login.busy}>
          {login.busy ? t('login.busy') : t('login.submit')}
        </button>
        <p class="muted small">{t('login.hint')}</p>
      </form>
    </div>
  );
}
