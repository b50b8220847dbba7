// Share links: a pre-signed GET URL from stsvend (POST /v1/presign), which anyone holding it
// can open without keys or an SDK until it expires. stsvend signs it with the user's own
// session, so it reaches this object only, for at most the session's remaining lifetime.
import type { PresignedUrl, StsvendCredentials } from '@stsvend/credentials';

/** How long a share link lives, seconds (stsvend caps it at presign.max_expires_seconds). */
export const SHARE_SECONDS = 900;

export function shareLink(credentials: StsvendCredentials, key: string): Promise<PresignedUrl> {
  return credentials.presign({ method: 'GET', key, expiresIn: SHARE_SECONDS });
}
