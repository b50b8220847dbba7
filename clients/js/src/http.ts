// One call to stsvend: the bearer token asked for afresh, "busy" answers retried with backoff
// (honouring Retry-After), refusals returned at once.

import { StsvendError, errorFromAnswer } from './errors.js';

export interface Transport {
  /** stsvend's base URL, without a trailing slash. */
  base: string;
  token: () => Promise<string>;
  fetch: typeof globalThis.fetch;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** The longest pause taken; a longer Retry-After ends the attempts at once. */
  maxRetryDelayMs: number;
}

const BASE_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5_000;

/** POSTs `body` (JSON, when given) to `path`; the parsed JSON of a 2xx answer. */
export async function post(t: Transport, path: string, body?: object): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    // Asked every attempt: the app may have renewed its access token meanwhile.
    const token = stripBearer(await t.token());
    if (!token) throw new StsvendError(0, 'no_token', 'stsvend: the token function gave an empty token');
    let err: StsvendError;
    try {
      const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
      if (body) headers['Content-Type'] = 'application/json';
      const resp = await t.fetch(`${t.base}${path}`, {
        method: 'POST',
        headers,
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await resp.text();
      if (resp.ok) {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw new StsvendError(resp.status, 'invalid_response', `stsvend: ${path} answered ${resp.status} with no JSON`);
        }
      }
      err = errorFromAnswer(resp.status, text, resp.headers.get('Retry-After'));
    } catch (e) {
      if (e instanceof StsvendError) throw e;
      // fetch rejects without an answer: offline, DNS, refused, CORS (the browser hides which).
      const why = e instanceof Error ? e.message : String(e);
      err = new StsvendError(0, 'network_error', `stsvend: no answer from ${t.base}: ${why}`, undefined, { cause: e });
    }
    const pause = pauseAfter(attempt, err, t);
    if (pause === undefined) throw err;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

function pauseAfter(attempt: number, err: StsvendError, t: Transport): number | undefined {
  if (!err.retryable || attempt >= t.maxAttempts) return undefined;
  const pause = err.retryAfter !== undefined ? err.retryAfter * 1000 : backoff(attempt);
  return pause <= t.maxRetryDelayMs ? pause : undefined;
}

/** 250 ms doubled per attempt, capped at 5 s, its upper half jittered. */
function backoff(attempt: number): number {
  const full = Math.min(BASE_BACKOFF_MS * 2 ** (attempt - 1), MAX_BACKOFF_MS);
  return full / 2 + Math.random() * (full / 2);
}

function stripBearer(raw: string): string {
  const t = raw.trim();
  return /^bearer\s/i.test(t) ? t.slice(6).trim() : t;
}
