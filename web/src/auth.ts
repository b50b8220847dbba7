// Login as an Auth0 single-page app does it: authorization code + PKCE (S256) against the
// issuer found by OIDC discovery, with `audience` so the access token is meant for stsvend.
import { UserManager, WebStorageStateStore, type User } from 'oidc-client-ts';

import type { WebConfig } from './config';

export const SCOPE = 'openid profile offline_access read:files write:files';
export const CALLBACK_PATH = '/callback';

export function userManager(cfg: WebConfig): UserManager {
  return new UserManager({
    authority: cfg.issuer,
    client_id: cfg.clientId,
    redirect_uri: `${location.origin}${CALLBACK_PATH}`,
    post_logout_redirect_uri: `${location.origin}/`,
    response_type: 'code',
    scope: SCOPE,
    extraQueryParams: { audience: cfg.audience },
    // Tokens live for this tab only; a new tab logs in again (the issuer session makes it quick).
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
    // With offline_access there is a refresh token: renewal uses it, no hidden iframe.
    automaticSilentRenew: true,
  });
}

/** A current access token: refreshed through the refresh token when expired, else null. */
export async function accessToken(um: UserManager): Promise<string | null> {
  let user: User | null = await um.getUser();
  if (user?.expired && user.refresh_token) {
    user = await um.signinSilent().catch(() => null);
  }
  return user && !user.expired ? user.access_token : null;
}
