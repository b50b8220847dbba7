// The user's storage through the AWS SDK v3: list, upload (multipart above PART_SIZE), download.
//
// Storage is a bucket and a key prefix, both from the vend: the prefix is "" when the bucket is
// the user's own (bucket mode) and `users/<id>/` in a shared bucket (prefix mode), where the
// session policy allows listing only with that prefix and objects only under it.
import {
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
  type _Object,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { AwsCredentialIdentityProvider } from '@aws-sdk/types';

/** Files larger than this go up as a multipart upload, in parts of this size (S3's minimum). */
export const PART_SIZE = 5 * 1024 * 1024;

export function s3Client(region: string, endpoint: string | undefined, credentials: AwsCredentialIdentityProvider) {
  return new S3Client({
    region,
    // Only set for S3-compatible endpoints (MiniStack locally); AWS itself needs neither.
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    credentials,
    // Checksums only where S3 demands them: the default (CRC32 on every upload and part) is
    // not understood by every S3-compatible store, and TLS + SigV4 already cover integrity here.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Every object whose key starts with `prefix` (the whole bucket for ""). */
export async function listFiles(s3: S3Client, bucket: string, prefix = ''): Promise<_Object[]> {
  const out: _Object[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }),
    );
    out.push(...(page.Contents ?? []));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

export interface Uploaded {
  key: string;
  size: number;
  multipart: boolean;
}

/** Uploads `file` as `prefix + file.name`. */
export async function uploadFile(
  s3: S3Client,
  bucket: string,
  prefix: string,
  file: File,
  onProgress: (loaded: number, total: number) => void,
): Promise<Uploaded> {
  const key = prefix + file.name;
  const upload = new Upload({
    client: s3,
    params: { Bucket: bucket, Key: key, Body: file, ContentType: file.type || 'application/octet-stream' },
    partSize: PART_SIZE,
    queueSize: 2,
    leavePartsOnError: false, // abort the multipart upload, so no orphaned parts are billed
  });
  upload.on('httpUploadProgress', (p) => onProgress(p.loaded ?? 0, p.total ?? file.size));
  await upload.done();
  return { key, size: file.size, multipart: file.size > PART_SIZE };
}

/** Downloads the object with the full `key` (prefix included). */
export async function downloadFile(s3: S3Client, bucket: string, key: string): Promise<Blob> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!out.Body) throw new Error(`GetObject ${key}: empty body`);
  const bytes = await out.Body.transformToByteArray();
  return new Blob([bytes as BlobPart], { type: out.ContentType ?? 'application/octet-stream' });
}

/** "AccessDenied", "NoSuchBucket", ... for an S3 error; the message for anything else. */
export function errorCode(e: unknown): string {
  if (e instanceof S3ServiceException) return e.name;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
