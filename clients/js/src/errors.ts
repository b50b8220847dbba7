// What a failed call to stsvend tells its caller.

/**
 * stsvend refused or could not answer. `code` is the stable code of stsvend's error envelope
 * (`token_expired`, `insufficient_scope`, `rate_limited`, ...; stsvend's README lists them all),
 * `network_error` when no answer arrived, or `http_<status>` for an answer that was not
 * stsvend's (a proxy's page). The message never contains the token.
 */
export class StsvendError extends Error {
  /** The HTTP status; 0 when no answer arrived. */
  readonly status: number;
  readonly code: string;
  /** Seconds stsvend asked to wait (`Retry-After`), when it did. */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: string, message: string, retryAfter?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StsvendError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /**
   * Whether asking again later may succeed as it is: stsvend's "busy" answers (429, 503), a
   * proxy's 502/504, or no answer. A refused token (401) or a refusal (403) never is.
   */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || (this.status >= 502 && this.status <= 504);
  }
}

/** stsvend's envelope `{"error": {"code", "message"}}`; anything else keeps its status. */
export function errorFromAnswer(status: number, text: string, retryAfterHeader: string | null): StsvendError {
  let code = `http_${status}`;
  let message = text.slice(0, 200).trim();
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // not JSON: a proxy's or a server's own page
  }
  const retryAfter = parseRetryAfter(retryAfterHeader);
  const wait = retryAfter === undefined ? '' : ` (retry after ${retryAfter} s)`;
  return new StsvendError(status, code, `stsvend: ${status} ${code}: ${message}${wait}`, retryAfter);
}

/** `Retry-After` in seconds, as stsvend sends it; the HTTP-date form, which stsvend does not
 * use, is ignored (the client's own backoff applies). */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value.trim());
}
