// Loading data: once, or again every `every` ms while the tab is visible (never overlapping).

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  /** Load again now (after a change the user made). */
  reload: () => Promise<void>;
}

export function useData<T>(load: () => Promise<T>, deps: unknown[], every?: number): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  const generation = useRef(0);

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const value = await loadRef.current();
      if (mine === generation.current) {
        setData(value);
        setError(undefined);
      }
    } catch (exc) {
      if (mine === generation.current) setError(exc);
    }
  }, []);

  useEffect(() => {
    setData(undefined);
    let timer: number | undefined;
    let stopped = false;
    let running = false;
    const tick = async () => {
      if (running) return;
      running = true;
      window.clearTimeout(timer);
      try {
        if (!document.hidden) await reload();
      } finally {
        running = false;
      }
      if (!stopped && every) timer = window.setTimeout(tick, every);
    };
    void tick();
    const onVisible = () => {
      if (!document.hidden && every) void tick();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      stopped = true;
      generation.current++;
      window.clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, deps);

  return { data, error, reload };
}
