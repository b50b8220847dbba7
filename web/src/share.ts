// Share links: a pre-signed GET URL from stsvend (POST /v1/presign), which anyone holding it
// can open without keys or an SDK until it expires. stsvend signs it with the user's own
// session, so it reaches this object only, for at most the session's remaining lifetime.

/** The body of `POST /v1/presign`. */
export interface Presigned {
  url: string;
  method: string;
  expires_at: string;
  headers: Record<string, string>;
}

/** How long a share link lives, seconds (stsvend caps it at presign.max_expires_seconds). */
export const SHARE_SECONDS = 900;

export async function shareLink(api: string, token: string, key: string): Promise<Presigned> {
  const resp = await fetch(`${api.replace(/\/$/, '')}/v1/presign`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ method: 'GET', key, expires_in: SHARE_SECONDS }),
  });
  const text = await resp.text();
  if (!resp.ok) {
    let code = `http_${resp.status}`;
    try {
      code = JSON.parse(text).error?.code ?? code;
    } catch {
      // not JSON: keep the status
    }
    throw new Error(`stsvend: ${resp.status} ${code}`);
  }
  return JSON.parse(text) as Presigned;
}
