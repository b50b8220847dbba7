// The operator console: a view of the same page at `#/console`, offered only to a login whose
// access token carries the admin permission. Every action is a call to the admin API, which
// checks that permission itself (a token without it gets 403): hiding the console from other
// users is a courtesy, not the gate.
import {
  type AdminAction,
  AdminApi,
  AdminApiError,
  type AdminUser,
  type DeleteIncomplete,
  type KeyOwner,
  tokenPermissions,
} from './admin-api';
import { mountOrgs } from './console-orgs';
import { mountUsage } from './console-usage';

export const CONSOLE_HASH = '#/console';

/** The audit log's record of its own reads: each read adds one, `started` while it answers. */
const AUDIT_READ = 'audit.list';
/** How many actions the audit table shows. */
const AUDIT_ROWS = 50;

const MARKUP = `
<section>
  <h2>Users</h2>
  <form id="console-search-form">
    <input id="console-search" placeholder="subject, user id or bucket (empty: all)" size="40" />
    <label>per page
      <select id="console-page-size">
        <option>5</option><option selected>20</option><option>50</option><option>100</option>
      </select>
    </label>
    <button type="submit">Search</button>
  </form>
  <div class="table-wrap">
    <table class="ids" data-testid="console-users">
      <thead><tr><th>Subject / user id</th><th>Storage</th><th>State</th><th>Created</th><th>Last vend</th><th></th></tr></thead>
      <tbody id="console-users"></tbody>
    </table>
  </div>
  <div class="actions">
    <span id="console-page" data-testid="console-page"></span>
    <button id="console-first" class="secondary" hidden>First page</button>
    <button id="console-next" class="secondary" hidden>Next page</button>
  </div>
</section>

<section id="console-user" data-testid="console-user" hidden>
  <h2>User <code id="console-user-id"></code></h2>
  <dl id="console-user-detail" data-testid="console-user-detail"></dl>
  <div class="actions">
    <button id="console-disable">Disable</button>
    <button id="console-enable">Enable</button>
    <button id="console-revoke">Revoke sessions</button>
    <button id="console-delete" class="danger">Delete…</button>
  </div>
  <div id="console-delete-confirm" data-testid="console-delete-confirm" class="confirm" hidden>
    <p>Delete <b id="console-delete-what"></b>? Their bucket and mapping are removed; the audit keeps
      their vends. Their next login starts afresh with a new bucket.</p>
    <label><input type="checkbox" id="console-delete-force" /> force: empty the bucket first if it holds objects</label>
    <div class="actions">
      <button id="console-delete-yes">Delete for good</button>
      <button id="console-delete-no">Cancel</button>
    </div>
  </div>
</section>

<section>
  <h2>Whose key was this?</h2>
  <form id="console-key-form">
    <input id="console-key" placeholder="ASIA…" size="32" required />
    <button type="submit">Look up</button>
  </form>
  <div class="table-wrap">
    <table class="ids" data-testid="console-key-vends">
      <thead><tr><th>Subject / user id</th><th>Storage</th><th>Access</th><th>Client</th><th>Address</th><th>First / last hand-out</th><th>Hand-outs</th><th>Expires</th></tr></thead>
      <tbody id="console-key-vends"></tbody>
    </table>
  </div>
</section>

<section>
  <h2>Admin audit log</h2>
  <form id="console-audit-form">
    <input id="console-audit-target" placeholder="only this user id or key (empty: all)" size="40" />
    <label><input type="checkbox" id="console-audit-reads" /> include reads of this log</label>
    <button type="submit">Show</button>
  </form>
  <div class="table-wrap">
    <table class="ids" data-testid="console-audit">
      <thead><tr><th>At</th><th>Actor</th><th>Action</th><th>Target</th><th>Outcome</th><th>Detail</th><th>From</th></tr></thead>
      <tbody id="console-audit"></tbody>
    </table>
  </div>
</section>`;

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing`);
  return e as T;
}

/** An ISO 8601 instant, as the admin API writes them. */
const INSTANT = /(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?Z/g;

/**
 * A table cell: one text, or lines of it. `wrap` lets a long identifier break anywhere (so a
 * wide table still fits the page; other cells never wrap); `sub` shows the lines after the
 * first smaller and muted.
 */
interface Lines {
  lines: (string | null | undefined)[];
  wrap?: boolean;
  sub?: boolean;
}
type Cell = string | null | undefined | Lines;

function row(cells: Cell[], extra?: HTMLElement): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const spec: Lines = c !== null && typeof c === 'object' ? c : { lines: [c] };
    const td = document.createElement('td');
    if (spec.wrap) td.className = 'long';
    // Instants read as `2026-12-01 10:11:12Z` in tables (the detail view keeps the API's form).
    const texts = spec.lines.map((l) => (l ?? '').replace(INSTANT, '$1 $2Z'));
    if (texts.length === 1) {
      td.textContent = texts[0];
    } else {
      td.append(
        ...texts.map((text, i) => {
          const line = document.createElement('div');
          line.textContent = text;
          if (spec.sub && i > 0) line.className = 'sub';
          return line;
        }),
      );
    }
    tr.append(td);
  }
  if (extra) {
    const td = document.createElement('td');
    td.append(extra);
    tr.append(td);
  }
  return tr;
}

/** A subject and, under it, the user id. */
const who = (subject: string, userId: string): Lines => ({ lines: [subject, userId], wrap: true, sub: true });

/** Where a user's objects live: their own bucket, or (prefix mode) a prefix of a shared one. */
function storage(u: AdminUser): string {
  return u.prefix ? `s3://${u.bucket}/${u.prefix}` : `s3://${u.bucket}`;
}

function message(e: unknown): string {
  return e instanceof AdminApiError || e instanceof Error ? e.message : String(e);
}

export interface ConsoleHost {
  api: string;
  adminPermission: string;
  /** The current access token (renewed when needed), or null once the login has ended. */
  token: () => Promise<string | null>;
  /** The page's status line. */
  status: (text: string, state?: string) => void;
}

/**
 * Adds the console to the page when `token` carries the admin permission: a link in the
 * header and the view, shown while the location is `#/console`. Returns whether it did.
 */
export function mountConsole(host: ConsoleHost, token: string): boolean {
  if (!tokenPermissions(token).includes(host.adminPermission)) return false;
  const admin = new AdminApi(host.api, host.token);

  const link = document.createElement('a');
  link.id = 'console-link';
  link.href = CONSOLE_HASH;
  link.textContent = 'Operator console';
  el('who').after(link);

  const view = document.createElement('main');
  view.id = 'console';
  view.dataset.testid = 'console';
  view.hidden = true;
  view.innerHTML = MARKUP; // static markup only: every value below goes in as text
  el('app').after(view);

  const show = () => {
    const onConsole = location.hash === CONSOLE_HASH;
    view.hidden = !onConsole;
    const title = onConsole ? 'Operator console' : 'Your files';
    el('view-title').textContent = title;
    document.title = `${title} · stsvend`;
    // The files view only once the page has the operator's own bucket (their vend may fail).
    el('app').hidden = onConsole || !el('bucket').textContent;
    link.textContent = onConsole ? 'My files' : 'Operator console';
    link.href = onConsole ? '#/' : CONSOLE_HASH;
    if (onConsole && !loaded) {
      loaded = true;
      void act('Loading users…', async () => {
        const users = await search(undefined);
        await orgs.load().catch(() => '');
        await usage.load().catch(() => '');
        return users;
      });
    }
  };
  let loaded = false;
  window.addEventListener('hashchange', show);

  // One action at a time; its outcome (or the API's error code) goes to the status line.
  const act = async (busy: string, action: () => Promise<string>) => {
    host.status(busy);
    try {
      host.status(await action(), 'ready');
    } catch (e) {
      host.status(`Failed: ${message(e)}`, 'error');
    }
  };

  const orgs = mountOrgs(view, admin, act);
  const usage = mountUsage(view, admin, act);

  // --- users: search with cursor paging -------------------------------------------------
  let query = '';
  let pageNo = 1;
  let nextAfter: string | undefined;
  const search = async (after: string | undefined) => {
    const size = Number(el<HTMLSelectElement>('console-page-size').value);
    const page = await admin.listUsers(query, after, size);
    nextAfter = page.next_after;
    el('console-users').replaceChildren(
      ...page.users.map((u) => {
        const open = document.createElement('button');
        open.textContent = 'Open';
        open.onclick = () => void act(`Loading ${u.subject}…`, () => openUser(u.user_id));
        const tr = row([who(u.subject, u.user_id), { lines: [storage(u)], wrap: true }, u.state, u.created_at, u.last_vend_at ?? 'never'], open);
        tr.dataset.userId = u.user_id;
        tr.dataset.subject = u.subject;
        return tr;
      }),
    );
    el('console-page').textContent = `Page ${pageNo}: ${page.users.length} user(s)${nextAfter ? '' : ' (last page)'}`;
    el('console-next').hidden = !nextAfter;
    el('console-first').hidden = pageNo === 1;
    return `${page.users.length} user(s) on page ${pageNo}.`;
  };
  el<HTMLFormElement>('console-search-form').onsubmit = (ev) => {
    ev.preventDefault();
    query = el<HTMLInputElement>('console-search').value.trim();
    pageNo = 1;
    void act('Searching…', () => search(undefined));
  };
  el('console-next').onclick = () => {
    pageNo += 1;
    void act('Next page…', () => search(nextAfter));
  };
  el('console-first').onclick = () => {
    pageNo = 1;
    void act('First page…', () => search(undefined));
  };

  // --- one user ---------------------------------------------------------------------------
  let current: AdminUser | undefined;
  const showUser = (u: AdminUser) => {
    current = u;
    el('console-user').hidden = false;
    el('console-user-id').textContent = u.user_id;
    const fields: [string, string][] = [
      ['Subject', u.subject],
      ['Issuer', u.issuer],
      [u.prefix ? 'Prefix' : 'Bucket', storage(u)],
      ['Region', u.region],
      ['State', u.state],
      ['Created', u.created_at],
      ['Last vend', u.last_vend_at ?? 'never'],
      ['Disabled at', u.disabled_at ?? '–'],
      ['Sessions revoked before', u.sessions_revoked_before ?? '–'],
    ];
    el('console-user-detail').replaceChildren(
      ...fields.flatMap(([k, v]) => {
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = v;
        dd.dataset.field = k;
        return [dt, dd];
      }),
    );
    const disabled = u.state === 'disabled';
    el('console-disable').hidden = disabled;
    el('console-enable').hidden = !disabled;
    el('console-delete-confirm').hidden = true;
  };
  const openUser = async (id: string) => {
    showUser(await admin.user(id));
    return `User ${current?.subject}.`;
  };
  const onCurrent = (busy: string, f: (u: AdminUser) => Promise<string>) => () => {
    if (current) void act(busy, () => f(current as AdminUser));
  };
  el('console-disable').onclick = onCurrent('Disabling…', async (u) => {
    showUser(await admin.setDisabled(u.user_id, true));
    return `Disabled ${u.subject}: their vends now answer 403 user_disabled.`;
  });
  el('console-enable').onclick = onCurrent('Enabling…', async (u) => {
    showUser(await admin.setDisabled(u.user_id, false));
    return `Enabled ${u.subject}.`;
  });
  el('console-revoke').onclick = onCurrent('Revoking sessions…', async (u) => {
    const { status, user } = await admin.revoke(u.user_id);
    showUser(user);
    return status === 202
      ? `Revoked ${u.subject}'s sessions: the Deny is written and propagating (202); older keys stop within moments.`
      : `Revoked ${u.subject}'s sessions: in effect; keys issued before ${user.sessions_revoked_before} are denied.`;
  });
  el('console-delete').onclick = () => {
    if (!current) return;
    el('console-delete-what').textContent = `${current.subject} (${storage(current)})`;
    el<HTMLInputElement>('console-delete-force').checked = false;
    el('console-delete-confirm').hidden = false;
  };
  el('console-delete-no').onclick = () => {
    el('console-delete-confirm').hidden = true;
  };
  el('console-delete-yes').onclick = onCurrent('Deleting…', async (u) => {
    const force = el<HTMLInputElement>('console-delete-force').checked;
    try {
      const d = await admin.deleteUser(u.user_id, force);
      current = undefined;
      el('console-user').hidden = true;
      await search(undefined).catch(() => '');
      return `Deleted ${u.subject}: ${d.prefix ? `prefix ${d.prefix} of bucket ${d.bucket}` : `bucket ${d.bucket}`}, ${d.objects_deleted} object(s) removed.`;
    } catch (e) {
      if (e instanceof AdminApiError && e.code === 'bucket_not_empty') {
        throw new Error(`${u.subject}'s bucket is not empty (409 bucket_not_empty): tick "force" to empty it first.`);
      }
      if (e instanceof AdminApiError && e.code === 'delete_incomplete') {
        // AWS refused some objects; the user is kept, disabled and revoked. Show them as they are now.
        const d = e.details as Partial<DeleteIncomplete> | undefined;
        await admin.user(u.user_id).then(showUser, () => undefined);
        throw new Error(
          `${u.subject} is not deleted yet (502 delete_incomplete): AWS refused to delete ` +
            `${d?.objects_left ?? 'some'} object(s) in ${storage(u)} (AWS error ${d?.aws_error ?? 'unknown'}). ` +
            'They stay disabled with their sessions revoked. Check the bucket policy, SCPs and object lock ' +
            '(retention, legal holds) for those objects, then press Delete again with "force".',
        );
      }
      throw e;
    }
  });

  // --- key lookup -------------------------------------------------------------------------
  el<HTMLFormElement>('console-key-form').onsubmit = (ev) => {
    ev.preventDefault();
    const key = el<HTMLInputElement>('console-key').value.trim();
    void act(`Looking up ${key}…`, async () => {
      el('console-key-vends').replaceChildren();
      const found = await admin.accessKey(key);
      el('console-key-vends').replaceChildren(
        ...found.vends.map((v: KeyOwner) => {
          const tr = row([
            who(`${v.subject ?? '?'}${v.user_deleted ? ' (deleted)' : ''}`, v.user_id),
            { lines: [v.prefix ? `${v.bucket}/${v.prefix}` : v.bucket], wrap: true },
            v.template,
            v.client_id,
            v.client_addr,
            { lines: [v.vended_at, v.last_at] },
            String(v.hand_outs),
            v.expiration,
          ]);
          tr.dataset.userId = v.user_id;
          return tr;
        }),
      );
      return `${key} went to ${found.vends.length} part${found.vends.length === 1 ? 'y' : 'ies'}.`;
    });
  };

  // --- audit log --------------------------------------------------------------------------
  el<HTMLFormElement>('console-audit-form').onsubmit = (ev) => {
    ev.preventDefault();
    const target = el<HTMLInputElement>('console-audit-target').value.trim();
    const withReads = el<HTMLInputElement>('console-audit-reads').checked;
    void act('Reading the audit log…', async () => {
      // Every read of the log is audited too, and the read being answered is listed as
      // `started` (its outcome is written after the answer): the console's own reads are
      // noise next to what operators did, so they are left out unless asked for.
      const fetched = await admin.audit(target, withReads ? AUDIT_ROWS : 4 * AUDIT_ROWS);
      const actions = (withReads ? fetched : fetched.filter((a) => a.action !== AUDIT_READ)).slice(0, AUDIT_ROWS);
      const reads = withReads ? 0 : fetched.filter((a) => a.action === AUDIT_READ).length;
      el('console-audit').replaceChildren(
        ...actions.map((a: AdminAction) => {
          const wrap = (text?: string | null): Lines => ({ lines: [text], wrap: true });
          const tr = row([a.at, wrap(a.actor), a.action, wrap(a.target), a.outcome, wrap(a.detail), a.client_addr]);
          tr.dataset.action = a.action;
          tr.dataset.outcome = a.outcome;
          return tr;
        }),
      );
      const left = reads ? ` (${reads} read(s) of this log left out)` : '';
      return `${actions.length} admin action(s), newest first${left}.`;
    });
  };

  show();
  return true;
}
