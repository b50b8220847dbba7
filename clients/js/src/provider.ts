// fromStsvend: an AWS SDK v3 credential provider that vends with the user's access token.
//
// The SDK memoizes a provider and calls it again once the identity's `expiration` is less than
// five minutes away (EXPIRATION_MS in @smithy/core), so every S3 call after that point signs
// with freshly vended keys. stsvend hands out its cached keys only while at least
// `aws.min_remaining_seconds` (20 min by default) remain, so that refresh gets new ones.

import { StsvendError } from './errors.js';
import { post, type Transport } from './http.js';
import {
  presignBody,
  presignPostBody,
  readPresigned,
  readPresignedPost,
  type PresignedPost,
  type PresignedUrl,
  type PresignPostRequest,
  type PresignRequest,
} from './presign.js';
import { readVend, type Storage, type StsvendIdentity, type Vended, type VendInfo } from './vend.js';

export interface StsvendOptions {
  /** stsvend's base URL, e.g. `https://stsvend.example.com`. */
  url: string;
  /**
   * The user's access token for stsvend's API (`Bearer ` in front is fine): a function asked
   * before every vend, so a renewed token is used at once (e.g. `() => auth0.getTokenSilently()`),
   * or a fixed string for scripts and tests.
   */
  token: string | (() => string | Promise<string>);
  /** The template to vend under (`read-only`, ...); stsvend's default when not given. */
  access?: string;
  /** Sees every vend that reached stsvend: key id, expiry, storage (no secret part). */
  onVend?: (vend: VendInfo) => void;
  /** Attempts in all on 429/503/502/504 and network failures (default 3). */
  maxAttempts?: number;
  /** The longest pause between attempts, ms (default 10 000); a longer `Retry-After` is thrown
   * at once as a `StsvendError` carrying it. */
  maxRetryDelayMs?: number;
  /** Plain `http://` to a host that is not loopback (default false: the token would cross the
   * network in clear). */
  allowInsecureHttp?: boolean;
  /** A `fetch` of your own (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

/**
 * An `AwsCredentialIdentityProvider`: pass it as `credentials` to any SDK v3 client. It also
 * says where the keys reach and signs URLs and forms for requests made without the SDK.
 */
export interface StsvendCredentials {
  (identityProperties?: Record<string, unknown>): Promise<StsvendIdentity>;
  /** Bucket, prefix, region, endpoint: from the last vend, or from a new one. */
  storage(): Promise<Storage>;
  /** A pre-signed URL for one request on a key in the user's storage. */
  presign(req: PresignRequest): Promise<PresignedUrl>;
  /** A signed browser form upload into the user's storage. */
  presignPost(req: PresignPostRequest): Promise<PresignedPost>;
}

/** The SDK asks again within this much of `expiration`; a vend with more left is reused. */
const REUSE_MARGIN_MS = 5 * 60 * 1000;

/**
 * ```ts
 * const credentials = fromStsvend({ url: 'https://stsvend.example.com', token: () => getAccessToken() });
 * const { bucket, prefix, region, endpoint } = await credentials.storage();
 * const s3 = new S3Client({ region, credentials, ...(endpoint ? { endpoint, forcePathStyle: true } : {}) });
 * ```
 * Concurrent calls share one request; keys with more than five minutes left are reused
 * (`{forceRefresh: true}` vends anyway).
 */
export function fromStsvend(options: StsvendOptions): StsvendCredentials {
  const base = checkedBase(options.url, options.allowInsecureHttp ?? false);
  const { token } = options;
  const transport: Transport = {
    base,
    token: async () => (typeof token === 'function' ? await token() : token),
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    maxAttempts: Math.max(1, options.maxAttempts ?? 3),
    maxRetryDelayMs: options.maxRetryDelayMs ?? 10_000,
  };
  let last: Vended | undefined;
  let inFlight: Promise<Vended> | undefined;

  const vend = (): Promise<Vended> => {
    inFlight ??= (async () => {
      const v = readVend(await post(transport, '/v1/credentials', options.access ? { access: options.access } : undefined));
      last = v;
      options.onVend?.({ accessKeyId: v.identity.accessKeyId, expiration: v.identity.expiration, storage: { ...v.storage } });
      return v;
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const provider = async (identityProperties?: Record<string, unknown>): Promise<StsvendIdentity> => {
    const reusable = last && last.identity.expiration.getTime() - Date.now() > REUSE_MARGIN_MS;
    const v = reusable && identityProperties?.forceRefresh !== true ? last! : await vend();
    return { ...v.identity };
  };
  return Object.assign(provider, {
    storage: async (): Promise<Storage> => ({ ...(last ?? (await vend())).storage }),
    presign: async (req: PresignRequest): Promise<PresignedUrl> =>
      readPresigned(await post(transport, '/v1/presign', presignBody(req, options.access))),
    presignPost: async (req: PresignPostRequest): Promise<PresignedPost> =>
      readPresignedPost(await post(transport, '/v1/presign/post', presignPostBody(req, options.access))),
  });
}

/** The base URL without a trailing slash; https, or http to a loopback host. */
function checkedBase(url: string, allowInsecureHttp: boolean): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StsvendError(0, 'invalid_url', `stsvend: ${JSON.stringify(url)} is not a URL`);
  }
  const loopback = u.hostname === 'localhost' || /^127(\.\d{1,3}){3}$/.test(u.hostname) || u.hostname === '[::1]';
  if (u.protocol === 'http:' && !loopback && !allowInsecureHttp) {
    throw new StsvendError(
      0,
      'invalid_url',
      `stsvend: ${u.origin} is plain http, which sends the token in clear; use https (http only for localhost, 127.0.0.0/8 and [::1], or allowInsecureHttp)`,
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new StsvendError(0, 'invalid_url', `stsvend: ${u.protocol} URLs are not supported`);
  }
  return u.href.replace(/\/+$/, '');
}
