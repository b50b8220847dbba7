// The operator console's Organisations section (`console.ts` mounts it): search organisations,
// open one (storage, state, members seen, revocations), and the org actions of the admin API:
// disable / enable, revoke every member's org sessions or one member's, delete. Each action is
// one admin API call with the operator's own token, so the audit names the operator. The buttons
// shown before an organisation is opened never contain the users' section's names (`Search`,
// `Next page`), which the console's browser test finds buttons by.
import { type AdminApi, AdminApiError, type AdminOrg } from './admin-api';

const MARKUP = `
  <h2>Organisations</h2>
  <form id="console-org-search-form">
    <input id="console-org-search" placeholder="org id or part of the org claim (empty: all)" size="40" />
    <button type="submit">Find organisations</button>
  </form>
  <div class="table-wrap">
    <table class="ids" data-testid="console-orgs">
      <thead><tr><th>Claim / org id</th><th>Storage</th><th>State</th><th>Created</th><th>Last vend</th><th></th></tr></thead>
      <tbody id="console-orgs"></tbody>
    </table>
  </div>
  <div class="actions">
    <span id="console-org-page" data-testid="console-org-page"></span>
    <button id="console-org-next" class="secondary" hidden>More organisations</button>
  </div>
  <div id="console-org" data-testid="console-org" hidden>
    <h3>Organisation <code id="console-org-id"></code></h3>
    <dl id="console-org-detail" data-testid="console-org-detail"></dl>
    <div class="actions">
      <button id="console-org-disable">Disable organisation</button>
      <button id="console-org-enable">Enable organisation</button>
      <button id="console-org-revoke">Revoke every member's sessions</button>
      <button id="console-org-delete" class="danger">Delete organisation…</button>
    </div>
    <form id="console-org-member-form" class="actions">
      <input id="console-org-member" placeholder="member's user id" size="30" required />
      <button type="submit">Revoke this member's org access</button>
    </form>
    <div id="console-org-delete-confirm" data-testid="console-org-delete-confirm" class="confirm" hidden>
      <p>Delete <b id="console-org-delete-what"></b>? Its storage and mapping are removed; a member's next
        team vend makes the organisation anew with new storage.</p>
      <label><input type="checkbox" id="console-org-delete-force" /> force: empty the storage first if it holds objects</label>
      <div class="actions">
        <button id="console-org-delete-yes">Delete organisation for good</button>
        <button id="console-org-delete-no">Keep organisation</button>
      </div>
    </div>
  </div>`;

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing`);
  return e as T;
}

/** Where an organisation's objects live: its own bucket, or a prefix of the shared one. */
function storage(o: AdminOrg): string {
  return o.prefix ? `s3://${o.bucket}/${o.prefix}` : `s3://${o.bucket}`;
}

function cells(texts: string[], extra: HTMLElement): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const t of texts) {
    const td = document.createElement('td');
    td.textContent = t;
    tr.append(td);
  }
  const td = document.createElement('td');
  td.append(extra);
  tr.append(td);
  return tr;
}

/** Runs one action, its outcome (or error) going to the status line. */
export type Act = (busy: string, action: () => Promise<string>) => Promise<void>;

/** Adds the Organisations section to `view` (the console), wired to `admin`. */
export function mountOrgs(view: HTMLElement, admin: AdminApi, act: Act): { load: () => Promise<string> } {
  const section = document.createElement('section');
  section.id = 'console-orgs-section';
  section.innerHTML = MARKUP; // static markup only: every value below goes in as text
  // After the users and the user's detail, before the key lookup.
  view.querySelector('#console-user')?.after(section);

  let query = '';
  let nextAfter: string | undefined;
  const search = async (after: string | undefined) => {
    const page = await admin.listOrgs(query, after);
    nextAfter = page.next_after;
    el('console-orgs').replaceChildren(
      ...page.orgs.map((o) => {
        const open = document.createElement('button');
        open.textContent = 'Open';
        open.onclick = () => void act(`Loading ${o.claim}…`, () => openOrg(o.org_id));
        const tr = cells([`${o.claim} / ${o.org_id}`, storage(o), o.state, o.created_at, o.last_vend_at ?? 'never'], open);
        tr.dataset.orgId = o.org_id;
        return tr;
      }),
    );
    el('console-org-page').textContent = `${page.orgs.length} organisation(s)${nextAfter ? '' : ' (last page)'}`;
    el('console-org-next').hidden = !nextAfter;
    return `${page.orgs.length} organisation(s).`;
  };
  el<HTMLFormElement>('console-org-search-form').onsubmit = (ev) => {
    ev.preventDefault();
    query = el<HTMLInputElement>('console-org-search').value.trim();
    void act('Searching organisations…', () => search(undefined));
  };
  el('console-org-next').onclick = () => void act('Next page…', () => search(nextAfter));

  let current: AdminOrg | undefined;
  const showOrg = (o: AdminOrg) => {
    // A revoke's or action's answer has no member list: keep the one shown.
    const seen = o.members_seen ?? current?.members_seen;
    current = { ...o, members_seen: seen };
    el('console-org').hidden = false;
    el('console-org-id').textContent = o.org_id;
    const fields: [string, string][] = [
      ['Claim', o.claim],
      ['Issuer', o.issuer],
      [o.prefix ? 'Prefix' : 'Bucket', storage(o)],
      ['State', o.state],
      ['Created', o.created_at],
      ['Last vend', o.last_vend_at ?? 'never'],
      ['Disabled at', o.disabled_at ?? '–'],
      ['Sessions revoked before', o.sessions_revoked_before ?? '–'],
      ['Members revoked', o.members_revoked.map((m) => `${m.user_id} before ${m.sessions_revoked_before}`).join(', ') || '–'],
      ['Members seen', seen ? `${seen.count}: ${seen.user_ids.join(', ')}` : '–'],
    ];
    el('console-org-detail').replaceChildren(
      ...fields.flatMap(([k, v]) => {
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = v;
        dd.dataset.field = k;
        return [dt, dd];
      }),
    );
    const disabled = o.state === 'disabled';
    el('console-org-disable').hidden = disabled;
    el('console-org-enable').hidden = !disabled;
    el('console-org-delete-confirm').hidden = true;
  };
  const openOrg = async (id: string) => {
    current = undefined;
    const o = await admin.org(id);
    showOrg(o);
    return `Organisation ${o.claim}.`;
  };
  const onCurrent = (busy: string, f: (o: AdminOrg) => Promise<string>) => () => {
    if (current) void act(busy, () => f(current as AdminOrg));
  };
  const revoked = (status: number, what: string) =>
    status === 202
      ? `Revoked ${what}: the Deny is written and propagating (202); older keys stop within moments.`
      : `Revoked ${what}: in effect.`;

  el('console-org-disable').onclick = onCurrent('Disabling…', async (o) => {
    showOrg(await admin.setOrgDisabled(o.org_id, true));
    return `Disabled ${o.claim}: its team templates now answer 403 org_disabled.`;
  });
  el('console-org-enable').onclick = onCurrent('Enabling…', async (o) => {
    showOrg(await admin.setOrgDisabled(o.org_id, false));
    return `Enabled ${o.claim}.`;
  });
  el('console-org-revoke').onclick = onCurrent('Revoking…', async (o) => {
    const { status, org } = await admin.revokeOrg(o.org_id);
    showOrg(org);
    return revoked(status, `every member's sessions on ${o.claim}'s storage`);
  });
  el<HTMLFormElement>('console-org-member-form').onsubmit = (ev) => {
    ev.preventDefault();
    const member = el<HTMLInputElement>('console-org-member').value.trim();
    onCurrent('Revoking the member…', async (o) => {
      const { status, org } = await admin.revokeOrg(o.org_id, member);
      showOrg(org);
      return revoked(status, `${member}'s sessions on ${o.claim}'s storage`);
    })();
  };
  el('console-org-delete').onclick = () => {
    if (!current) return;
    el('console-org-delete-what').textContent = `${current.claim} (${storage(current)})`;
    el<HTMLInputElement>('console-org-delete-force').checked = false;
    el('console-org-delete-confirm').hidden = false;
  };
  el('console-org-delete-no').onclick = () => {
    el('console-org-delete-confirm').hidden = true;
  };
  el('console-org-delete-yes').onclick = onCurrent('Deleting…', async (o) => {
    const force = el<HTMLInputElement>('console-org-delete-force').checked;
    try {
      const d = await admin.deleteOrg(o.org_id, force);
      current = undefined;
      el('console-org').hidden = true;
      await search(undefined).catch(() => '');
      return `Deleted ${o.claim}: ${d.prefix ? `prefix ${d.prefix} of bucket ${d.bucket}` : `bucket ${d.bucket}`}, ${d.objects_deleted} object(s) removed.`;
    } catch (e) {
      if (e instanceof AdminApiError && e.code === 'bucket_not_empty') {
        throw new Error(`${o.claim}'s storage is not empty (409 bucket_not_empty): tick "force" to empty it first.`);
      }
      throw e;
    }
  });

  return { load: () => search(undefined) };
}
