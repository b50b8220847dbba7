// Share links: a pre-signed GET URL, which anyone holding it can open without keys or an SDK
// until it expires.
//
// A file of the user's own: stsvend signs it (POST /v1/presign) with the user's session, so it
// reaches this object only, for at most the session's remaining lifetime.
//
// A team file: stsvend's presign route takes keys relative to the caller's own storage and
// cannot name the organisation's, so the page signs the URL itself with the AWS SDK's presigner
// and the vended keys (the team template's session, which reaches the team's storage). The link
// is bounded the same way: the keys' expiry ends it whatever its own lifetime says.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { PresignedUrl, StsvendCredentials } from '@stsvend/credentials';

/** How long a share link lives, seconds (stsvend caps it at presign.max_expires_seconds). */
export const SHARE_SECONDS = 900;

export function shareLink(credentials: StsvendCredentials, key: string): Promise<PresignedUrl> {
  return credentials.presign({ method: 'GET', key, expiresIn: SHARE_SECONDS });
}

/** A link to `key` (the full key, prefix included) in `bucket`, signed in the page. */
export async function sdkShareLink(
  s3: S3Client,
  credentials: StsvendCredentials,
  bucket: string,
  key: string,
): Promise<{ url: string; expiresAt: Date }> {
  const keysLeft = Math.floor(((await credentials()).expiration.getTime() - Date.now()) / 1000);
  const seconds = Math.max(1, Math.min(SHARE_SECONDS, keysLeft));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: seconds });
  return { url, expiresAt: new Date(Date.now() + seconds * 1000) };
}
