// The NAS's awake / asleep timeline, from the NAS link's stored transitions.

import { t, type Key } from '../i18n';
import { dateTime } from '../format';
import type { NasState } from '../types';
import type { Segment } from '../energy/savings';

const COLOURS: Record<NasState, string> = {
  online: '#16a34a',
  shutting_down: '#f59e0b',
  waking: '#f59e0b',
  sleeping: '#93c5fd',
  offline: '#94a3b8',
  unknown: '#e2e8f0',
};

const LEGEND: NasState[] = ['online', 'waking', 'sleeping', 'offline', 'unknown'];

export function Timeline(props: { parts: Segment[]; from: number; to: number; timeZone: string }) {
  const span = props.to - props.from || 1;
  const x = (ms: number) => ((ms - props.from) / span) * 1000;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => props.from + f * span);
  return (
    <div class="timeline" data-testid="nas-timeline">
      <svg viewBox="0 0 1000 32" preserveAspectRatio="none" role="img" aria-label={t('timeline.title')}>
        {props.parts.map((p) => (
          <rect
            key={p.start}
            x={x(p.start)}
            width={Math.max(0.5, x(p.end) - x(p.start))}
            y={0}
            height={32}
            fill={COLOURS[p.state]}
            data-state={p.state}
          >
            <title>
              {t(`nas.state.${p.state}` as Key)}: {dateTime(new Date(p.start).toISOString(), props.timeZone)}{' '}
              – {dateTime(new Date(p.end).toISOString(), props.timeZone)}
            </title>
          </rect>
        ))}
      </svg>
      <div class="timeline-ticks">
        {ticks.map((tick) => (
          <span key={tick}>{dateTime(new Date(tick).toISOString(), props.timeZone)}</span>
        ))}
      </div>
      <div class="legend">
        {LEGEND.map((state) => (
          <span key={state}>
            <i style={{ background: COLOURS[state] }} />
            {t(`nas.state.${state}` as Key)}
          </span>
        ))}
      </div>
    </div>
  );
}
