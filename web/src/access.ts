// Which template the page vends under: a team one when the token's `permissions` (Auth0 RBAC,
// granted per organisation membership) hold a team permission, so one session reaches both
// the user's own storage and their organisation's; the configured default otherwise.
//
// The token's claims are read here only to choose what to ask for: stsvend checks the token
// and decides. When it refuses the team template (no organisation in the token: org_required;
// a server without organisations: unknown_access; a grant configured otherwise; the
// organisation disabled), the page vends with the default template and shows its own files
// alone, saying why the team's are missing.
import { fromStsvend, StsvendError, type Storage, type StsvendCredentials, type StsvendOptions } from '@stsvend/credentials';

import { tokenPermissions } from './admin-api';

/** stsvend's shipped team templates (README "Organisations") and the permissions granting them. */
export const TEAM_READ_WRITE = 'team-read-write';
export const TEAM_READ = 'team-read';
const WRITE_TEAM = 'write:team-files';
const READ_TEAM = 'read:team-files';

/** The team template this token may ask for, if any: read-write wins over read. */
export function teamTemplate(accessToken: string): string | undefined {
  const grants = tokenPermissions(accessToken);
  if (grants.includes(WRITE_TEAM)) return TEAM_READ_WRITE;
  if (grants.includes(READ_TEAM)) return TEAM_READ;
  return undefined;
}

/** Whether a storage's template lets the page upload to the team's storage. */
export const teamWritable = (storage: Storage) => storage.access !== TEAM_READ;

export interface Vending {
  credentials: StsvendCredentials;
  storage: Storage;
  /** Why there are no team files although the token asked for them (an stsvend code). */
  teamRefused?: string;
}

/** Answers that mean "not this template", after which the default template is tried. */
const NOT_FOR_THIS_TOKEN = new Set([400, 403, 409]);

/**
 * Credentials under `team` when given and stsvend grants it, else under the default template;
 * vends once (twice when the team template is refused).
 */
export async function vend(options: StsvendOptions, team: string | undefined): Promise<Vending> {
  if (team) {
    const credentials = fromStsvend({ ...options, access: team });
    try {
      return { credentials, storage: await credentials.storage() };
    } catch (e) {
      if (!(e instanceof StsvendError) || !NOT_FOR_THIS_TOKEN.has(e.status)) throw e;
      const credentials = fromStsvend(options);
      return { credentials, storage: await credentials.storage(), teamRefused: e.code };
    }
  }
  const credentials = fromStsvend(options);
  return { credentials, storage: await credentials.storage() };
}
