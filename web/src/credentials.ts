// S3 credentials from stsvend, as an AWS SDK v3 credential provider.
//
// The SDK memoizes a provider and calls it again when the identity's `expiration` is less than
// five minutes away (EXPIRATION_MS in @smithy/core), so every S3 call after that point signs
// with freshly vended keys. stsvend itself hands out cached keys only while at least
// `aws.min_remaining_seconds` (20 min by default) remain, so that refresh gets new ones.
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';

/** The body of `POST /v1/credentials` (version 1). */
export interface Vended {
  Version: number;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
  Bucket: string;
  /** Every key of the user's starts with it: "" when `Bucket` is theirs alone (bucket mode),
   * `users/<id>/` in a shared bucket (prefix mode), where listing needs `Prefix` set to it. */
  Prefix: string;
  Region: string;
  Access: string;
  Endpoint?: string;
}

export class VendError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** POSTs the bearer token to stsvend; a cross-origin call, allowed by stsvend's CORS config. */
export async function vend(api: string, token: string): Promise<Vended> {
  const resp = await fetch(`${api.replace(/\/$/, '')}/v1/credentials`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
  });
  const text = await resp.text();
  if (!resp.ok) {
    // stsvend's error envelope: {"error": {"code": "...", "message": "..."}}
    let code = `http_${resp.status}`;
    let message = text;
    try {
      const body = JSON.parse(text);
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch {
      // not JSON: keep the raw text
    }
    throw new VendError(resp.status, code, `stsvend: ${resp.status} ${code}: ${message}`);
  }
  const body = JSON.parse(text) as Vended;
  if (body.Version !== 1) throw new Error(`stsvend: unsupported response version ${body.Version}`);
  return body;
}

export function identity(v: Vended): AwsCredentialIdentity {
  return {
    accessKeyId: v.AccessKeyId,
    secretAccessKey: v.SecretAccessKey,
    sessionToken: v.SessionToken,
    expiration: new Date(v.Expiration),
  };
}

/**
 * A provider that starts from keys already vended (the first vend tells the app its bucket,
 * prefix, region and endpoint) and vends again whenever the SDK asks. `onVend` sees every response.
 */
export function stsvendProvider(
  first: Vended,
  fetchNew: () => Promise<Vended>,
  onVend: (v: Vended) => void,
): AwsCredentialIdentityProvider {
  let initial: Vended | undefined = first;
  return async () => {
    const v = initial ?? (await fetchNew());
    initial = undefined;
    onVend(v);
    return identity(v);
  };
}
