// Runtime configuration, fetched from /config.json when the page loads.
//
// Why not `import.meta.env` (baked in at build time)? One build must serve both the demo stack
// (issuer on :4400, stsvend on :8080) and the browser test, whose stsvend and issuer listen on
// ports picked at run time. The server that serves dist/ (serve.mjs) answers /config.json from
// its own environment, so pointing the app elsewhere is a restart of that server, not a rebuild.

export interface WebConfig {
  /** OIDC issuer (Auth0 tenant URL, with its trailing slash). */
  issuer: string;
  /** Auth0 application (SPA) client id. */
  clientId: string;
  /** Auth0 API identifier, sent as `audience` so the access token is a JWT for stsvend. */
  audience: string;
  /** stsvend base URL; credentials come from `${api}/v1/credentials`. */
  api: string;
  /** The permission stsvend's admin API requires (`admin.permission`); its holders get the
   * operator console. Optional in /config.json, default `admin:users`. */
  adminPermission: string;
}

export async function loadConfig(): Promise<WebConfig> {
  const resp = await fetch('/config.json', { cache: 'no-store' });
  if (!resp.ok) throw new Error(`GET /config.json: HTTP ${resp.status}`);
  const raw: Partial<WebConfig> = await resp.json();
  const missing = (['issuer', 'clientId', 'audience', 'api'] as const).filter((k) => !raw[k]);
  if (missing.length) throw new Error(`/config.json lacks ${missing.join(', ')}`);
  return { ...raw, adminPermission: raw.adminPermission || 'admin:users' } as WebConfig;
}
