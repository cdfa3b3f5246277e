// The tiny API client: JSON in and out, the bearer token, errors as ApiError.

import { session } from './session';

/** An answer other than 2xx; `status` 0 when the Pi did not answer at all. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    /** The API's stable machine code, where it sends one. */
    readonly code?: string,
    /** FastAPI's list of field errors: shown as one plain sentence, never field names. */
    readonly invalid = false,
  ) {
    super(detail || `HTTP ${status}`);
  }
}

function codeOf(data: unknown): string | undefined {
  if (!data || typeof data !== 'object' || !('code' in data)) return undefined;
  const { code } = data as { code: unknown };
  return typeof code === 'string' ? code : undefined;
}

function invalidList(data: unknown): boolean {
  return (
    !!data &&
    typeof data === 'object' &&
    'detail' in data &&
    Array.isArray((data as { detail: unknown }).detail)
  );
}

type Query = Record<string, string | number | boolean | null | undefined>;

interface Options {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: object | FormData;
  query?: Query;
}

function detailOf(data: unknown): string {
  if (!data || typeof data !== 'object' || !('detail' in data)) return '';
  const { detail } = data as { detail: unknown };
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    // FastAPI's 422: a list of {loc, msg}.
    return detail
      .map((item: { loc?: unknown[]; msg?: string }) =>
        [item.loc?.slice(1).join('.'), item.msg].filter(Boolean).join(': '),
      )
      .join('; ');
  }
  return JSON.stringify(detail);
}

export async function api<T>(path: string, options: Options = {}): Promise<T> {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value !== null && value !== undefined) url.searchParams.set(name, String(value));
  }
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (options.body instanceof FormData) {
    body = options.body;
  } else if (options.body) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }

  let response: Response;
  try {
    response = await fetch(url, { method: options.method ?? 'GET', headers, body });
  } catch {
    throw new ApiError(0, '');
  }
  const data: unknown = await response.json().catch(() => null);
  if (response.status === 401 && token) session.end('expired');
  if (!response.ok) throw new ApiError(response.status, detailOf(data), codeOf(data), invalidList(data));
  return data as T;
}
