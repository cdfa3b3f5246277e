// The shell: the login gate, the header with the page tabs, and the current page.

import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { t, type Key } from './i18n';
import { Conflicts } from './pages/conflicts';
import { Devices } from './pages/devices';
import { Energy } from './pages/energy';
import { Login } from './pages/login';
import { Overview } from './pages/overview';
import { Tariffs } from './pages/tariffs';
import { navigate, pathOf, PAGES, usePage, type Page } from './router';
import { session } from './session';
import type { User } from './types';

const VIEWS: Record<Page, () => preact.JSX.Element> = {
  overview: Overview,
  energy: Energy,
  devices: Devices,
  conflicts: Conflicts,
  tariffs: Tariffs,
};

function useUser(): User | null {
  const [user, setUser] = useState(session.user);
  useEffect(() => session.subscribe(() => setUser(session.user())), []);
  return user;
}

export function App() {
  const user = useUser();
  const page = usePage();

  useEffect(() => {
    // A token kept from before a reload: still good? (401 ends the session inside api().)
    // When the Pi cannot tell (the NAS asleep, the token unknown) it drops the connection:
    // keep the session then; the pages will say what fails.
    if (user) api<User>('/api/auth/me').catch(() => undefined);
  }, []);

  useEffect(() => {
    document.title = user ? `${t(`nav.${page}` as Key)} · BaluPi` : 'BaluPi';
  }, [page, user]);

  if (!user) return <Login />;
  const View = VIEWS[page];
  return (
    <div class="shell">
      <header class="top">
        <div class="top-row">
          <a class="brand" href="/" onClick={(e) => (e.preventDefault(), navigate('overview'))}>
            <span class="logo" aria-hidden="true" />
            BaluPi
          </a>
          <div class="who">
            <span class="user" data-testid="user">
              {user.username}
              {user.role === 'admin' && <span class="role">{t('user.admin')}</span>}
            </span>
            <button type="button" class="button small ghost" onClick={() => session.end('logout')}>
              {t('user.logout')}
            </button>
          </div>
        </div>
        <nav class="tabs" aria-label={t('nav.label')}>
          {PAGES.map((p) => (
            <a
              key={p}
              href={pathOf(p)}
              class={p === page ? 'tab active' : 'tab'}
              aria-current={p === page ? 'page' : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(p);
              }}
            >
              {t(`nav.${p}` as Key)}
            </a>
          ))}
        </nav>
      </header>
      <main class="page" data-page={page}>
        <View />
      </main>
    </div>
  );
}
