// The operator console's Usage section (`console.ts` mounts it; quotas, issue 25): the users
// and organisations storing the most, from the usage ledger (`GET /admin/v1/usage`), each
// with a button that lists their storage now and corrects the ledger (reconcile). While the
// service has quotas off the admin API answers 404, and the section says so instead.
import { type AdminApi, AdminApiError, type OwnerUsage } from './admin-api';
import { fmtBytes } from './page';

// The owners over a limit (the `limits` part's state) get a table of their own here.
const MARKUP = `
  <h2>Usage</h2>
  <p id="console-usage-off" class="hint" data-testid="console-usage-off" hidden>Quotas are off: stsvend keeps no usage.</p>
  <div id="console-usage-on">
    <h3>Largest users</h3>
    <div class="table-wrap">
      <table class="ids" data-testid="console-usage-users">
        <thead><tr><th>User id</th><th>Stored</th><th>Objects</th><th>As of</th><th></th></tr></thead>
        <tbody id="console-usage-users"></tbody>
      </table>
    </div>
    <h3>Largest organisations</h3>
    <div class="table-wrap">
      <table class="ids" data-testid="console-usage-orgs">
        <thead><tr><th>Org id</th><th>Stored</th><th>Objects</th><th>As of</th><th></th></tr></thead>
        <tbody id="console-usage-orgs"></tbody>
      </table>
    </div>
    <div class="actions"><button id="console-usage-refresh" class="secondary">Refresh usage</button></div>
  </div>`;

/** Owners shown per table. */
const SHOWN = 10;

type Act = (busy: string, action: () => Promise<string>) => Promise<void>;

/** Adds the Usage section to `view` (the console), wired to `admin`. */
export function mountUsage(view: HTMLElement, admin: AdminApi, act: Act): { load: () => Promise<string> } {
  const section = document.createElement('section');
  section.id = 'console-usage-section';
  section.innerHTML = MARKUP; // static markup only: every value below goes in as text
  view.append(section);
  const find = (id: string) => section.querySelector<HTMLElement>(`#${id}`) as HTMLElement;

  const rows = (kind: 'user' | 'org', owners: OwnerUsage[]) =>
    owners.map((o) => {
      const tr = document.createElement('tr');
      tr.dataset.id = o.id;
      tr.dataset.bytes = String(o.bytes);
      for (const text of [o.id, fmtBytes(o.bytes), String(o.objects), o.as_of]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      const btn = document.createElement('button');
      btn.textContent = 'Reconcile';
      btn.onclick = () =>
        void act(`Listing ${o.id}'s storage…`, async () => {
          const r = await admin.reconcile(kind, o.id);
          await load();
          return `Reconciled ${r.id}: ${fmtBytes(r.after.bytes)} in ${r.after.objects} object(s); drift ${r.drift.bytes} bytes, ${r.drift.objects} object(s).`;
        });
      const td = document.createElement('td');
      td.append(btn);
      tr.append(td);
      return tr;
    });

  const load = async (): Promise<string> => {
    try {
      const [users, orgs] = await Promise.all([admin.usage('user', SHOWN), admin.usage('org', SHOWN)]);
      find('console-usage-users').replaceChildren(...rows('user', users.largest));
      find('console-usage-orgs').replaceChildren(...rows('org', orgs.largest));
      find('console-usage-off').hidden = true;
      find('console-usage-on').hidden = false;
      return `Usage: ${users.largest.length} user(s), ${orgs.largest.length} organisation(s) shown.`;
    } catch (e) {
      if (!(e instanceof AdminApiError) || e.status !== 404) throw e;
      find('console-usage-off').hidden = false;
      find('console-usage-on').hidden = true;
      return 'Quotas are off.';
    }
  };
  find('console-usage-refresh').onclick = () => void act('Loading usage…', load);
  return { load };
}
