// The typed API client: every route and body comes from api-types.ts, generated from the server's
// OpenAPI schema (`npm run gen:types`). Nothing here declares an API shape by hand.
import createClient from 'openapi-fetch';
import type { components, paths } from './api-types';

export type Schemas = components['schemas'];
export type Problem = Schemas['Problem'];

/** The token the page was opened with (`/?token=…`); the server also set it as a cookie. */
const token = new URLSearchParams(window.location.search).get('token');

export const api = createClient<paths>({
  baseUrl: window.location.origin,
  headers: token ? { Authorization: `Bearer ${token}` } : {},
});

/** An API error: the server's `{error, hint, problems?}` body with its HTTP status. */
export class ApiError extends Error {
  constructor(
    message: string,
    public readonly hint: string,
    public readonly status: number,
    public readonly problems: Problem[] = [],
  ) {
    super(message);
  }
}

interface ErrorShape {
  error?: string;
  hint?: string;
  problems?: Problem[];
  detail?: unknown;
}

/** The data of an openapi-fetch result, or an {@link ApiError} carrying the server's words. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined) {
    const body = (result.error ?? {}) as ErrorShape;
    const message =
      body.error ?? (typeof body.detail === 'string' ? body.detail : `HTTP ${result.response.status}`);
    throw new ApiError(message, body.hint ?? '', result.response.status, body.problems ?? []);
  }
  return result.data;
}

/** Headers for plain fetch() calls (logs, artifacts, uploads) outside the typed client. */
export function authHeaders(): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** A URL under /api for links, <img> and EventSource (the cookie authenticates them). */
export function apiUrl(path: string, query: Record<string, string | number | boolean | undefined> = {}): string {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  return url.pathname + url.search;
}

/** The message of anything thrown, with its hint. */
export function describe(err: unknown): string {
  if (err instanceof ApiError) return err.hint ? `${err.message} (hint: ${err.hint})` : err.message;
  return err instanceof Error ? err.message : String(err);
}
