// The NAS's awake / asleep timeline, from the NAS link's stored transitions, over the whole period:
// what has not happened yet (after now) is left blank, never counted as a state.

import { t, type Key } from '../i18n';
import { dateTime } from '../format';
import type { NasState } from '../types';
import type { Segment } from '../energy/savings';
import { axisTicks, type Period } from '../energy/period';

const COLOURS: Record<NasState, string> = {
  online: '#16a34a',
  shutting_down: '#f59e0b',
  waking: '#f59e0b',
  sleeping: '#93c5fd',
  offline: '#94a3b8',
  unknown: '#e2e8f0',
};

const LEGEND: NasState[] = ['online', 'waking', 'sleeping', 'offline', 'unknown'];
const MOST_LABELS = 8;

export function Timeline(props: { parts: Segment[]; period: Period }) {
  const p = props.period;
  const span = p.end - p.start || 1;
  const x = (ms: number) => ((ms - p.start) / span) * 1000;
  const ticks = axisTicks(p);
  const every = Math.ceil(ticks.at.length / MOST_LABELS);
  return (
    <div class="timeline" data-testid="nas-timeline">
      <svg viewBox="0 0 1000 32" preserveAspectRatio="none" role="img" aria-label={t('timeline.title')}>
        {props.parts.map((part) => (
          <rect
            key={part.start}
            x={x(part.start)}
            width={Math.max(0.5, x(part.end) - x(part.start))}
            y={0}
            height={32}
            fill={COLOURS[part.state]}
            data-state={part.state}
          >
            <title>
              {t(`nas.state.${part.state}` as Key)}:{' '}
              {dateTime(new Date(part.start).toISOString(), p.timeZone)} –{' '}
              {dateTime(new Date(part.end).toISOString(), p.timeZone)}
            </title>
          </rect>
        ))}
        <line x1={x(p.now)} x2={x(p.now)} y1={0} y2={32} class="timeline-now" />
      </svg>
      <div class="timeline-ticks">
        {ticks.at.map((at, i) =>
          i % every === 0 ? (
            <span key={at} style={{ left: `${x(at * 1000) / 10}%` }}>
              {ticks.labels[i]}
            </span>
          ) : null,
        )}
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
