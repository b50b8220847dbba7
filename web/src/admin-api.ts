// The admin API (/admin/v1) as the operator console calls it: the same bearer token as the
// vend, cross-origin (stsvend's CORS config covers every route). The server decides who is an
// operator; the page only hides what a token without the permission could not use anyway.

/** A user as `/admin/v1/users` shows one. */
export interface AdminUser {
  user_id: string;
  issuer: string;
  subject: string;
  bucket: string;
  /** Prefix mode: the user's prefix of a shared bucket (absent for a bucket of their own). */
  prefix?: string | null;
  region: string;
  state: string;
  created_at: string;
  last_vend_at?: string | null;
  disabled_at?: string | null;
  sessions_revoked_before?: string | null;
  /** In a revoke's answer: `in_effect` or `propagating`. */
  revocation?: string;
}

export interface UserPage {
  users: AdminUser[];
  next_after?: string;
}

export interface KeyOwner {
  user_id: string;
  issuer?: string | null;
  subject?: string | null;
  bucket?: string | null;
  /** Prefix mode: the user's prefix of `bucket`. */
  prefix?: string | null;
  user_deleted: boolean;
  template: string;
  vended_at: string;
  last_at: string;
  hand_outs: number;
  expiration: string;
  client_addr?: string | null;
  client_id?: string | null;
  from_cache: boolean;
}

export interface KeyLookup {
  access_key_id: string;
  vends: KeyOwner[];
}

export interface AdminAction {
  at: string;
  actor: string;
  actor_client?: string | null;
  action: string;
  target?: string | null;
  outcome: string;
  detail?: string | null;
  client_addr?: string | null;
}

export interface Deleted {
  user_id: string;
  bucket: string;
  /** The prefix emptied (prefix mode); empty in bucket mode. */
  prefix?: string;
  objects_deleted: number;
  uploads_aborted: number;
}

/** An organisation as `/admin/v1/orgs` shows one. */
export interface AdminOrg {
  org_id: string;
  issuer: string;
  /** The org claim value the organisation is known by at the issuer. */
  claim: string;
  bucket: string;
  mode: string;
  /** Prefix mode: the org's prefix of the shared bucket (empty for a bucket of its own). */
  prefix: string;
  region: string;
  state: string;
  created_at: string;
  last_vend_at?: string | null;
  disabled_at?: string | null;
  sessions_revoked_before?: string | null;
  members_revoked: { user_id: string; sessions_revoked_before: string }[];
  /** In the detail only: the members the vend audit saw. */
  members_seen?: { count: number; user_ids: string[] };
  /** In a revoke's answer: `in_effect` or `propagating`. */
  revocation?: string;
}

export interface OrgPage {
  orgs: AdminOrg[];
  next_after?: string;
}

export interface OrgDeleted {
  org_id: string;
  bucket: string;
  prefix?: string;
  objects_deleted: number;
  uploads_aborted: number;
}

/** What `delete_incomplete` carries in `error.details`. */
export interface DeleteIncomplete {
  objects_left: number;
  aws_error: string;
}

/** One owner in `/admin/v1/usage` (quotas). */
export interface OwnerUsage {
  id: string;
  bytes: number;
  objects: number;
  as_of: string;
}

export interface UsagePage {
  kind: 'user' | 'org';
  largest: OwnerUsage[];
  next_after?: string;
}

/** A reconciliation's answer: the owner's storage listed, the ledger's totals before and after. */
export interface Reconciliation {
  kind: 'user' | 'org';
  id: string;
  bucket: string;
  prefix: string;
  before: { bytes: number; objects: number };
  after: { bytes: number; objects: number };
  drift: { bytes: number; objects: number };
  as_of: string;
}

export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** `error.details` of the envelope, for the codes that carry facts. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export class AdminApi {
  constructor(
    private readonly api: string,
    private readonly token: () => Promise<string | null>,
  ) {}

  private async call<T>(method: string, path: string): Promise<{ status: number; body: T }> {
    const token = await this.token();
    if (!token) throw new AdminApiError(401, 'logged_out', 'the login session ended: log in again');
    const resp = await fetch(`${this.api.replace(/\/$/, '')}/admin/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}` },
    });
    const text = await resp.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!resp.ok) {
      // stsvend's error envelope: {"error": {"code": "...", "message": "...", "details"?: {...}}}
      const err = (
        body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined
      )?.error;
      const code = err?.code ?? `http_${resp.status}`;
      throw new AdminApiError(resp.status, code, `${resp.status} ${code}: ${err?.message ?? text}`, err?.details);
    }
    return { status: resp.status, body: body as T };
  }

  async listUsers(search: string, after?: string, limit = 20): Promise<UserPage> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (search) q.set('search', search);
    if (after) q.set('after', after);
    return (await this.call<UserPage>('GET', `/users?${q}`)).body;
  }

  async user(id: string): Promise<AdminUser> {
    return (await this.call<AdminUser>('GET', `/users/${encodeURIComponent(id)}`)).body;
  }

  async setDisabled(id: string, disabled: boolean): Promise<AdminUser> {
    const verb = disabled ? 'disable' : 'enable';
    return (await this.call<AdminUser>('POST', `/users/${encodeURIComponent(id)}/${verb}`)).body;
  }

  /** 200 when AWS already refuses older sessions, 202 while the Deny propagates. */
  async revoke(id: string): Promise<{ status: number; user: AdminUser }> {
    const r = await this.call<AdminUser>('POST', `/users/${encodeURIComponent(id)}/revoke`);
    return { status: r.status, user: r.body };
  }

  async deleteUser(id: string, force: boolean): Promise<Deleted> {
    const q = force ? '?force=true' : '';
    return (await this.call<Deleted>('DELETE', `/users/${encodeURIComponent(id)}${q}`)).body;
  }

  async listOrgs(search: string, after?: string, limit = 20): Promise<OrgPage> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (search) q.set('search', search);
    if (after) q.set('after', after);
    return (await this.call<OrgPage>('GET', `/orgs?${q}`)).body;
  }

  async org(id: string): Promise<AdminOrg> {
    return (await this.call<AdminOrg>('GET', `/orgs/${encodeURIComponent(id)}`)).body;
  }

  async setOrgDisabled(id: string, disabled: boolean): Promise<AdminOrg> {
    const verb = disabled ? 'disable' : 'enable';
    return (await this.call<AdminOrg>('POST', `/orgs/${encodeURIComponent(id)}/${verb}`)).body;
  }

  /** Every member's org sessions, or one member's (`member`): 200 in effect, 202 propagating. */
  async revokeOrg(id: string, member?: string): Promise<{ status: number; org: AdminOrg }> {
    const who = member ? `/members/${encodeURIComponent(member)}` : '';
    const r = await this.call<AdminOrg>('POST', `/orgs/${encodeURIComponent(id)}${who}/revoke`);
    return { status: r.status, org: r.body };
  }

  async deleteOrg(id: string, force: boolean): Promise<OrgDeleted> {
    const q = force ? '?force=true' : '';
    return (await this.call<OrgDeleted>('DELETE', `/orgs/${encodeURIComponent(id)}${q}`)).body;
  }

  /** The owners of `kind` storing the most; 404 `not_found` while quotas are off. */
  async usage(kind: 'user' | 'org', limit = 10): Promise<UsagePage> {
    return (await this.call<UsagePage>('GET', `/usage?kind=${kind}&limit=${limit}`)).body;
  }

  async reconcile(kind: 'user' | 'org', id: string): Promise<Reconciliation> {
    const owners = kind === 'user' ? 'users' : 'orgs';
    return (await this.call<Reconciliation>('POST', `/${owners}/${encodeURIComponent(id)}/usage/reconcile`)).body;
  }

  async accessKey(id: string): Promise<KeyLookup> {
    return (await this.call<KeyLookup>('GET', `/access-keys/${encodeURIComponent(id)}`)).body;
  }

  async audit(target: string, limit = 50): Promise<AdminAction[]> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (target) q.set('target', target);
    return (await this.call<{ actions: AdminAction[] }>('GET', `/audit?${q}`)).body.actions;
  }
}

/** The `permissions` claim of an access token (a JWT), or none if it cannot be read. */
export function tokenPermissions(token: string): string[] {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
    return Array.isArray(claims.permissions) ? claims.permissions.filter((p: unknown) => typeof p === 'string') : [];
  } catch {
    return [];
  }
}
