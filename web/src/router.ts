// Five pages, one path each; the browser's history API, no library.

import { useEffect, useState } from 'preact/hooks';

export const PAGES = ['overview', 'energy', 'devices', 'conflicts', 'tariffs'] as const;
export type Page = (typeof PAGES)[number];

const EVENT = 'balupi:navigate';

export function pathOf(page: Page): string {
  return page === 'overview' ? '/' : `/${page}`;
}

function pageOf(pathname: string): Page {
  const name = pathname.replace(/^\/+|\/+$/g, '');
  return (PAGES as readonly string[]).includes(name) ? (name as Page) : 'overview';
}

export function navigate(page: Page): void {
  if (window.location.pathname !== pathOf(page)) {
    window.history.pushState(null, '', pathOf(page));
    window.dispatchEvent(new Event(EVENT));
  }
}

export function usePage(): Page {
  const [page, setPage] = useState(() => pageOf(window.location.pathname));
  useEffect(() => {
    const update = () => setPage(pageOf(window.location.pathname));
    window.addEventListener('popstate', update);
    window.addEventListener(EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(EVENT, update);
    };
  }, []);
  return page;
}
