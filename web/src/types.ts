// The shapes of the API answers the dashboard reads (docs/api.md), only the fields it uses.

export type NasState = 'unknown' | 'online' | 'sleeping' | 'offline' | 'waking' | 'shutting_down';

export interface User {
  id?: number;
  username: string;
  role: string;
}

export interface LoginAnswer {
  access_token: string;
  token_type: string;
  user: User;
}

export interface NasStatus {
  state: NasState;
  since: string | null;
  evidence: string;
  last_seen_at: string | null;
  wake_in_progress: boolean;
  configured: boolean;
  nas_url: string | null;
  nas_version: string | null;
  power_w: number | null;
  power_class: string | null;
  /** What the NAS's own sleep service last said (``asked``: the Pi can ask it at all). */
  sleep: { asked: boolean; current_state: string | null; state_since: string | null };
  /** What BaluPi sent the NAS, by purpose (``null`` without a NAS). */
  gate: {
    requests_sent: Record<'user' | 'probe' | 'wake' | 'background', number>;
    requests_refused: Record<'user' | 'probe' | 'wake' | 'background', number>;
    requests_last_minute: number;
  } | null;
  today: { awake_seconds: number; asleep_seconds: number };
}

export interface NasTransition {
  at: string;
  from: NasState;
  to: NasState;
  evidence: string | null;
}

export interface NasHistory {
  from: string;
  to: string;
  awake_seconds: number;
  asleep_seconds: number;
  transitions: NasTransition[];
}

export interface WakeAnswer {
  sent: boolean;
  state: NasState;
  mac: string | null;
}

export interface SystemStatus {
  hostname: string;
  cpu_percent: number;
  cpu_count: number;
  load_average: number[];
  memory_percent: number;
  memory_used_mb: number;
  memory_total_mb: number;
  temperature_c: number | null;
  uptime_seconds: number;
  service_uptime_seconds: number;
  process_rss_mb: number;
  disk: { path: string; total_bytes: number; used_bytes: number; free_bytes: number; percent: number };
}

export interface HotFile {
  path: string;
  size: number;
  hits: number;
  last_access_at: string | null;
  pinned: boolean;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  budget_bytes: number;
  requests: { hits: number; misses: number; passes: number; local: number };
  hit_ratio: number | null;
  byte_hit_ratio: number | null;
  evictions: number;
  pinned: number;
  dirty_bytes: number;
  policy: string;
  hottest: HotFile[];
}

export interface SyncFailure {
  id: number;
  path: string;
  operation: string;
  status: string;
  attempts: number;
  last_error: string | null;
}

export interface SyncStatus {
  pending_count: number;
  pending_bytes: number;
  oldest_pending_age_seconds: number | null;
  last_successful_sync: string | null;
  by_status: Record<string, number>;
  // Counts are the whole queue's; `failures` lists the caller's own entries (admins: all).
  failure_count: number;
  parked_count: number;
  failures: SyncFailure[];
  open_conflicts: number;
  safe_to_power_off: boolean;
}

export interface UploadAnswer {
  message: string;
  uploaded: number;
  upload_ids: number[];
}

export type Resolution = 'keep_server' | 'keep_local' | 'keep_both';

export interface Conflict {
  id: number;
  path: string;
  status: string;
  local_sha256: string | null;
  local_size: number | null;
  remote_sha256: string | null;
  remote_size: number | null;
  remote_modified_at: string | null;
  detected_at: string | null;
  resolved_at: string | null;
  resolution: string | null;
  conflict_copy_path: string | null;
}

export interface Alert {
  id: number;
  device_id: number | null;
  device_name: string | null;
  kind: string;
  message: string;
  active: boolean;
  raised_at: string;
  cleared_at: string | null;
}

export type Role = 'nas' | 'monitor' | 'generic';

export interface LiveReading {
  device_id: number;
  name: string;
  power_w: number | null;
  voltage_v: number | null;
  role: Role;
  is_on: boolean | null;
  today_wh: number | null;
  online: boolean;
  status: string;
  error: string | null;
  measured_at: string | null;
}

export interface CurrentPower {
  devices: LiveReading[];
  total_power_w: number;
  timestamp: string;
}

export interface Plug {
  id: number;
  mac: string;
  name: string;
  host: string;
  port: number | null;
  model: string | null;
  role: Role;
  is_online: boolean;
  status: string;
  last_error: string | null;
  last_seen_at: string | null;
  live: LiveReading | null;
}

export interface DiscoveryAnswer {
  found: { host: string; mac: string | null; created: boolean; device: Plug | null; error: string | null }[];
}

export type Range = 'day' | 'week' | 'month' | 'year';

export interface DeviceRef {
  id: number;
  name: string;
  role: Role;
}

export interface HistoryPoint {
  start: string;
  day?: string | null; // the local date of a daily point
  energy_wh: number;
  avg_power_w: number;
  samples: number;
  covered_seconds: number;
  cost: number | null;
}

export interface History {
  range: Range;
  resolution: '5min' | 'hour' | 'day';
  timezone: string;
  from: string;
  to: string;
  series: { device: DeviceRef; points: HistoryPoint[] }[];
}

export interface CostLine {
  energy_wh: number;
  cost: number;
  unpriced_energy_wh: number;
}

export interface Costs {
  period: Range;
  first_day: string;
  last_day: string;
  from: string; // the whole period (UTC)
  to: string;
  counted_until: string; // its energy is counted up to here: the closed hours
  now: string;
  timezone: string;
  currency: string | null;
  devices: DeviceRef[];
  by_device: (CostLine & { id: number })[];
  total: CostLine;
}

export interface Summary {
  currency: string | null;
  total: { month: CostLine; month_projected: CostLine };
}

export interface Tariff {
  id: number;
  name: string;
  price_per_kwh: number;
  currency: string;
  valid_from: string;
  valid_until: string | null;
  starts_at: string | null;
  ends_at: string | null;
}

export interface TariffInput {
  name: string;
  price_per_kwh: number;
  currency: string;
  valid_from: string;
  valid_until: string | null;
  starts_at: string | null;
  ends_at: string | null;
}

/** `POST /api/energy/tariffs` (with `?dry_run=true`: what it would do, nothing stored). */
export interface TariffCreated {
  tariff: Tariff;
  superseded: Tariff[]; // the tariffs it ends (on its valid_from)
}
