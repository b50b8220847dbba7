// Pre-signed URLs and POST forms (`POST /v1/presign`, `POST /v1/presign/post`), for requests
// made without the SDK: a share link, a plain HTML form, `<img src>`.

import { StsvendError } from './errors.js';

export interface PresignRequest {
  method: 'GET' | 'PUT' | 'DELETE' | 'HEAD';
  /** Relative to the user's storage: stsvend puts it under their prefix. */
  key: string;
  /** Seconds (stsvend's default 900, at most its `presign.max_expires_seconds`). */
  expiresIn?: number;
  /** The template whose session signs (default: the provider's `access`). */
  access?: string;
}

export interface PresignedUrl {
  url: string;
  method: string;
  /** S3 refuses the URL from then on (never later than the signing keys' expiry). */
  expiresAt: Date;
  /** Headers to send exactly as given with the request (often none). */
  headers: Record<string, string>;
}

/** A browser form upload: exactly `key`, or `keyPrefix` followed by the file's name. */
export interface PresignPostRequest {
  key?: string;
  keyPrefix?: string;
  /** Largest file accepted, bytes (default and maximum: stsvend's `presign.max_upload_bytes`). */
  maxBytes?: number;
  /** The form must send exactly this Content-Type (it is among the returned fields). */
  contentType?: string;
  expiresIn?: number;
  access?: string;
}

export interface PresignedPost {
  /** Where the form POSTs (`multipart/form-data`). */
  url: string;
  /** Fields to send as they are, before the `file` field. */
  fields: Record<string, string>;
  expiresAt: Date;
}

export function presignBody(req: PresignRequest, access: string | undefined): object {
  return { method: req.method, key: req.key, expires_in: req.expiresIn, access: req.access ?? access };
}

export function presignPostBody(req: PresignPostRequest, access: string | undefined): object {
  return {
    key: req.key,
    key_prefix: req.keyPrefix,
    max_bytes: req.maxBytes,
    content_type: req.contentType,
    expires_in: req.expiresIn,
    access: req.access ?? access,
  };
}

function expiresAt(b: Record<string, unknown>): Date {
  const d = new Date(String(b.expires_at));
  if (typeof b.url !== 'string' || Number.isNaN(d.getTime())) {
    throw new StsvendError(200, 'invalid_response', 'stsvend: a presign answer without url or expires_at');
  }
  return d;
}

export function readPresigned(body: unknown): PresignedUrl {
  const b = (body ?? {}) as Record<string, unknown>;
  const at = expiresAt(b);
  return {
    url: b.url as string,
    method: String(b.method),
    expiresAt: at,
    headers: (b.headers ?? {}) as Record<string, string>,
  };
}

export function readPresignedPost(body: unknown): PresignedPost {
  const b = (body ?? {}) as Record<string, unknown>;
  const at = expiresAt(b);
  return { url: b.url as string, fields: (b.fields ?? {}) as Record<string, string>, expiresAt: at };
}
