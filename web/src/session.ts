// The login session: the bearer token and the user, kept in sessionStorage (gone with the tab).

import type { User } from './types';

interface Stored {
  token: string;
  user: User;
}

export type EndReason = 'logout' | 'expired';

const KEY = 'balupi.session';
const listeners = new Set<() => void>();
let lastEnd: EndReason | null = null;

function read(): Stored | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Stored) : null;
  } catch {
    return null;
  }
}

function changed(): void {
  for (const listener of listeners) listener();
}

export const session = {
  token: (): string | null => read()?.token ?? null,
  user: (): User | null => read()?.user ?? null,
  isAdmin: (): boolean => read()?.user.role === 'admin',
  /** Why the last session ended: shown once on the login page. */
  endReason: (): EndReason | null => lastEnd,

  start(token: string, user: User): void {
    sessionStorage.setItem(KEY, JSON.stringify({ token, user }));
    lastEnd = null;
    changed();
  },

  end(reason: EndReason): void {
    if (!read()) return;
    sessionStorage.removeItem(KEY);
    lastEnd = reason;
    changed();
  },

  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
