/**
 * The authorize step (spec §1.1): GET {apiBase}/v3/feed/market-data-feed/authorize with the bearer token →
 * a single-use wss URL whose `code` query parameter is itself a credential. Typed failures so the feed
 * client can decide: UNAUTHORIZED stops retrying, RATE_LIMITED waits Retry-After, the rest back off.
 *
 * Neither the token nor the returned URL's `code` ever appear in an error message: messages are built from
 * status codes and Upstox error codes only, and are scrubbed of the token anyway.
 */
import { scrubSecrets } from '../logger.js';
import { AUTHORIZE_PATH } from './protocol.js';

export type AuthorizeErrorKind = 'UNAUTHORIZED' | 'RATE_LIMITED' | 'SERVER' | 'NETWORK' | 'BAD_RESPONSE';

export class AuthorizeError extends Error {
  override name = 'AuthorizeError' as const;
  readonly kind: AuthorizeErrorKind;
  /** HTTP status, when a response arrived. */
  readonly status: number | null;
  /** Upstox error code from the error envelope (e.g. UDAPI100050 = invalid token), when present. */
  readonly upstoxCode: string | null;
  /** From Retry-After on 429, in ms. */
  readonly retryAfterMs: number | null;
  constructor(
    kind: AuthorizeErrorKind,
    message: string,
    options: { status?: number | null; upstoxCode?: string | null; retryAfterMs?: number | null; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.kind = kind;
    this.status = options.status ?? null;
    this.upstoxCode = options.upstoxCode ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}

export interface AuthorizeOptions {
  /** REST base, e.g. https://api.upstox.com or the simulator's http://127.0.0.1:port. */
  apiBase: string;
  /** Upstox access token (sent as `Authorization: Bearer`). */
  accessToken: string;
  /** fetch implementation (tests). @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Aborts the request (the feed client's stop()). */
  signal?: AbortSignal;
  /** Gives up after this long with a NETWORK error. @default 10_000 (ms) */
  timeoutMs?: number;
  /** Clock for Retry-After dates. @default Date.now */
  now?: () => number;
}

/** Parses Retry-After (delta seconds or an HTTP date) into ms from now; null when absent or unparsable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1_000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Replaces the `code` query parameter of an authorized feed URL, for logs. */
export function redactFeedUrl(url: string): string {
  return url.replace(/([?&]code=)[^&#]*/gi, '$1[REDACTED]');
}

function upstoxCodeOf(body: unknown): string | null {
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return null;
  const first = errors[0] as { error_code?: unknown; errorCode?: unknown };
  const code = first.error_code ?? first.errorCode;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : null;
}

/** Calls the authorize endpoint and returns the single-use ws(s) URL. Throws {@link AuthorizeError}. */
export async function authorize({
  apiBase,
  accessToken,
  fetch: fetchImpl = globalThis.fetch,
  signal,
  timeoutMs = 10_000,
  now = Date.now,
}: AuthorizeOptions): Promise<string> {
  const url = new URL(apiBase);
  // Keep any path prefix of apiBase (e.g. a proxy mounted under /upstox).
  url.pathname = `${url.pathname.replace(/\/$/, '')}${AUTHORIZE_PATH}`;
  const scrub = (text: string) => scrubSecrets(text, [accessToken]);
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;

  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'GET',
      headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/json' },
      redirect: 'follow',
      signal: combined,
    });
  } catch (cause) {
    if (signal?.aborted) throw new AuthorizeError('NETWORK', 'authorize aborted', { cause });
    const reason = timeout.aborted
      ? `timed out after ${timeoutMs} ms`
      : scrub(String((cause as Error)?.message ?? cause));
    throw new AuthorizeError('NETWORK', `authorize request to ${url.origin} failed: ${reason}`, { cause });
  }

  let body: unknown = null;
  let bodyError: unknown;
  try {
    const text = await response.text();
    body = text === '' ? null : JSON.parse(text);
  } catch (cause) {
    bodyError = cause;
  }
  const upstoxCode = upstoxCodeOf(body);
  const status = response.status;
  const codeNote = upstoxCode ? ` (${upstoxCode})` : '';

  if (status === 401 || status === 403) {
    throw new AuthorizeError('UNAUTHORIZED', `authorize refused the access token: HTTP ${status}${codeNote}`, {
      status,
      upstoxCode,
    });
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
    const wait = retryAfterMs === null ? '' : `; retry after ${retryAfterMs} ms`;
    throw new AuthorizeError('RATE_LIMITED', `authorize rate-limited: HTTP 429${codeNote}${wait}`, {
      status,
      upstoxCode,
      retryAfterMs,
    });
  }
  if (status >= 500) {
    throw new AuthorizeError('SERVER', `authorize failed on the server: HTTP ${status}${codeNote}`, {
      status,
      upstoxCode,
    });
  }
  if (!response.ok) {
    throw new AuthorizeError('BAD_RESPONSE', `authorize answered HTTP ${status}${codeNote}`, { status, upstoxCode });
  }
  if (bodyError !== undefined) {
    throw new AuthorizeError('BAD_RESPONSE', 'authorize answered 200 with a body that is not JSON', {
      status,
      cause: bodyError,
    });
  }
  const data = (body as { data?: Record<string, unknown> } | null)?.data;
  const redirect = data?.authorized_redirect_uri ?? data?.authorizedRedirectUri;
  if (typeof redirect !== 'string' || !/^wss?:\/\//i.test(redirect)) {
    throw new AuthorizeError(
      'BAD_RESPONSE',
      'authorize answered 200 without a ws(s) URL in data.authorized_redirect_uri / data.authorizedRedirectUri',
      { status },
    );
  }
  return redirect;
}
