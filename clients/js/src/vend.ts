// stsvend's `POST /v1/credentials` answer, read into an SDK identity and a Storage.

import { StsvendError } from './errors.js';

/** Where the vended keys reach: `s3://<bucket>/<prefix>`. */
export interface Storage {
  bucket: string;
  /**
   * `""` when the bucket is the user's alone (bucket mode); `users/<id>/` in a shared bucket
   * (prefix mode), where every key must start with it and a listing must ask for it. Writing
   * `prefix + name` and listing with `Prefix: prefix` works in both.
   */
  prefix: string;
  region: string;
  /** A custom S3 endpoint (a local stand-in, a proxy): use it with `forcePathStyle: true`.
   * Absent for AWS itself. */
  endpoint?: string;
  /** The template the keys were vended under (`read-write`, `read-only`, ...). */
  access: string;
  /** The organisation's bucket, when the template reaches organisation storage (`OrgBucket`). */
  orgBucket?: string;
  /** The organisation's prefix in `orgBucket` (`OrgPrefix`), when sent. */
  orgPrefix?: string;
}

/** An AWS SDK v3 `AwsCredentialIdentity`, always with its expiration. */
export interface StsvendIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** What `onVend` sees of each vend: no secret part. */
export interface VendInfo {
  accessKeyId: string;
  expiration: Date;
  storage: Storage;
}

export interface Vended {
  identity: StsvendIdentity;
  storage: Storage;
}

const str = (v: unknown): v is string => typeof v === 'string';

/** Version 1; unknown fields are ignored, so a newer stsvend's additions break nothing. */
export function readVend(body: unknown): Vended {
  const b = (body ?? {}) as Record<string, unknown>;
  if (b.Version !== 1) {
    throw new StsvendError(200, 'invalid_response', `stsvend: credentials version ${String(b.Version)} (this client reads 1)`);
  }
  for (const field of ['AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration', 'Bucket', 'Region']) {
    if (!str(b[field])) throw new StsvendError(200, 'invalid_response', `stsvend: credentials without ${field}`);
  }
  const expiration = new Date(b.Expiration as string);
  if (Number.isNaN(expiration.getTime())) {
    throw new StsvendError(200, 'invalid_response', `stsvend: Expiration ${JSON.stringify(b.Expiration)} is not a date`);
  }
  const storage: Storage = {
    bucket: b.Bucket as string,
    // Absent from an stsvend older than prefix mode: the bucket is then the user's own.
    prefix: str(b.Prefix) ? b.Prefix : '',
    region: b.Region as string,
    access: str(b.Access) ? b.Access : '',
  };
  if (str(b.Endpoint)) storage.endpoint = b.Endpoint;
  if (str(b.OrgBucket)) storage.orgBucket = b.OrgBucket;
  if (str(b.OrgPrefix)) storage.orgPrefix = b.OrgPrefix;
  return {
    identity: {
      accessKeyId: b.AccessKeyId as string,
      secretAccessKey: b.SecretAccessKey as string,
      sessionToken: b.SessionToken as string,
      expiration,
    },
    storage,
  };
}
