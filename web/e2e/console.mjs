#!/usr/bin/env node
// Browser test of the operator console (#/console), run by tests/api/admin/console.rs.
//
//   WEB_URL          app origin (the issuer lists WEB_URL/callback)
//   E2E_OUT          directory for console.png (and failure-console.png)
//   OPERATOR_SUB     the operator, logged in with the admin permission (ADMIN_PERMISSION)
//   TAG              a search string matching exactly TAGGED users (page size 5: two pages)
//   ALICE_SUB, ALICE_USER_ID, ALICE_KEY   the user to revoke, and a key she was vended before
//   CAROL_SUB        a user with one object: disabled, enabled, then deleted (refused, forced)
//   ORG_ID, ORG_SEARCH   an organisation (storage not made yet) and part of its claim: found,
//                    opened, disabled, enabled, Alice's org access and everyone's revoked, deleted
//
// Everything goes through the console's buttons and forms; the page's status line and tables
// are what is checked. Prints `E2E_RESULT {...}`; the Rust test then checks S3 itself.

import * as path from 'node:path';

import { logIn, need, runScenario, waitStatus } from './lib.mjs';

const WEB_URL = need('WEB_URL').replace(/\/$/, '');
const OUT = need('E2E_OUT');
const OPERATOR = need('OPERATOR_SUB');
const PERMISSION = need('ADMIN_PERMISSION');
const TAG = need('TAG');
const TAGGED = Number(need('TAGGED'));
const ALICE = need('ALICE_SUB');
const ALICE_ID = need('ALICE_USER_ID');
const ALICE_KEY = need('ALICE_KEY');
const CAROL = need('CAROL_SUB');
const ORG_ID = need('ORG_ID');
const ORG_SEARCH = need('ORG_SEARCH');

const rowsOf = (page, testid, attr) =>
  page.locator(`[data-testid="${testid}"] tbody tr`).evaluateAll((rows, a) => rows.map((r) => r.dataset[a]), attr);
const field = (page, name) => page.locator(`#console-user-detail dd[data-field="${name}"]`).textContent();

async function search(page, text) {
  await page.fill('#console-search', text);
  await page.getByRole('button', { name: 'Search' }).click();
  await waitStatus(page, /user\(s\) on page 1\.$/);
}

async function open(page, sub) {
  await search(page, sub);
  const rows = await rowsOf(page, 'console-users', 'subject');
  if (JSON.stringify(rows) !== JSON.stringify([sub])) throw new Error(`searching ${sub} lists ${JSON.stringify(rows)}`);
  await page.locator(`#console-users tr[data-subject="${sub}"] button`).click();
  await waitStatus(page, /^User /);
  const shown = await field(page, 'Subject');
  if (shown !== sub) throw new Error(`the detail shows ${shown}, expected ${sub}`);
}

await runScenario(OUT, async (page, result) => {
  await page.goto(`${WEB_URL}/`);
  await waitStatus(page, /^Not logged in/);
  await logIn(page, OPERATOR, `read:files write:files ${PERMISSION}`);

  // The console is offered, and is a view of the same page that says where you are.
  result.titleOnFiles = await page.getByTestId('view-title').textContent();
  await page.getByRole('link', { name: 'Operator console' }).click();
  await page.waitForURL(/#\/console$/);
  await waitStatus(page, /user\(s\) on page 1\.$/);
  result.titleOnConsole = await page.getByTestId('view-title').textContent();
  result.documentTitle = await page.title();
  if (!(await page.locator('#app').isHidden()) || (await page.locator('#console').isHidden())) {
    throw new Error('#/console does not show the console instead of the files');
  }

  // Search with cursor paging: five per page, the tagged users over two pages.
  await page.selectOption('#console-page-size', '5');
  await search(page, TAG);
  const first = await rowsOf(page, 'console-users', 'subject');
  await page.getByRole('button', { name: 'Next page' }).click();
  await waitStatus(page, /user\(s\) on page 2\.$/);
  const second = await rowsOf(page, 'console-users', 'subject');
  result.paging = { first: first.length, second: second.length, lastPage: await page.getByTestId('console-page').textContent() };
  const all = new Set([...first, ...second]);
  if (first.length !== 5 || all.size !== TAGGED || first.length + second.length !== TAGGED) {
    throw new Error(`paging over ${TAGGED} users: ${JSON.stringify({ first, second })}`);
  }
  if (!(await page.getByRole('button', { name: 'Next page' }).isHidden())) throw new Error('a next page after the last');
  await page.selectOption('#console-page-size', '20');

  // Carol: disable, enable, delete (refused while her bucket holds an object, then forced).
  await open(page, CAROL);
  await page.getByRole('button', { name: 'Disable' }).click();
  await waitStatus(page, /^Disabled /);
  result.carolDisabled = await field(page, 'State');
  await page.getByRole('button', { name: 'Enable' }).click();
  await waitStatus(page, /^Enabled /);
  result.carolEnabled = await field(page, 'State');
  await page.getByRole('button', { name: 'Delete…' }).click();
  await page.getByTestId('console-delete-confirm').waitFor({ state: 'visible' });
  await page.getByRole('button', { name: 'Delete for good' }).click();
  await waitStatus(page, /^Failed: .*bucket is not empty/);
  result.carolDeleteRefused = await page.getByTestId('status').textContent();
  await page.check('#console-delete-force');
  await page.getByRole('button', { name: 'Delete for good' }).click();
  await waitStatus(page, /^Deleted /);
  result.carolDeleted = await page.getByTestId('status').textContent();
  if (result.carolDisabled !== 'disabled' || result.carolEnabled !== 'ready' || !/1 object\(s\) removed/.test(result.carolDeleted)) {
    throw new Error(`carol: ${JSON.stringify(result)}`);
  }

  // Alice: her detail, then revoke.
  await open(page, ALICE);
  result.aliceBefore = {
    bucket: await field(page, 'Bucket'),
    state: await field(page, 'State'),
    created: await field(page, 'Created'),
    lastVend: await field(page, 'Last vend'),
    revokedBefore: await field(page, 'Sessions revoked before'),
  };
  if (result.aliceBefore.lastVend === 'never' || result.aliceBefore.revokedBefore !== '–') {
    throw new Error(`alice before the revocation: ${JSON.stringify(result.aliceBefore)}`);
  }
  await page.getByRole('button', { name: 'Revoke sessions' }).click();
  await waitStatus(page, /^Revoked /);
  result.revoked = await page.getByTestId('status').textContent();
  result.revokedBefore = await field(page, 'Sessions revoked before');
  if (!/^\d{4}-\d\d-\d\dT/.test(result.revokedBefore)) throw new Error(`revoked before: ${result.revokedBefore}`);

  // Whose key was this? Alice's, vended before the revocation.
  await page.fill('#console-key', ALICE_KEY);
  await page.getByRole('button', { name: 'Look up' }).click();
  await waitStatus(page, /went to \d+ part(y|ies)\.$/);
  result.keyOwners = await rowsOf(page, 'console-key-vends', 'userId');
  if (!result.keyOwners.length || result.keyOwners.some((u) => u !== ALICE_ID)) {
    throw new Error(`the key lookup shows ${JSON.stringify(result.keyOwners)}, expected ${ALICE_ID}`);
  }

  // The audit log holds what the operator just did, and not the console's own reads of it
  // (the read being answered would show as `started`) unless asked for.
  await page.getByRole('button', { name: 'Show' }).click();
  await waitStatus(page, /admin action\(s\), newest first/);
  result.audit = await rowsOf(page, 'console-audit', 'action');
  result.auditOutcomes = await rowsOf(page, 'console-audit', 'outcome');
  result.auditStatus = await page.getByTestId('status').textContent();
  for (const a of ['users.revoke', 'users.disable', 'users.enable', 'users.delete', 'users.delete_forced', 'access_keys.lookup']) {
    if (!result.audit.includes(a)) throw new Error(`the audit log lacks ${a}: ${JSON.stringify(result.audit)}`);
  }
  await page.check('#console-audit-reads');
  await page.getByRole('button', { name: 'Show' }).click();
  await waitStatus(page, /admin action\(s\), newest first\.$/);
  result.auditWithReads = await rowsOf(page, 'console-audit', 'action');
  await page.uncheck('#console-audit-reads');
  await page.getByRole('button', { name: 'Show' }).click();
  await waitStatus(page, /admin action\(s\), newest first \(3 read\(s\) of this log left out\)\.$/);

  // The organisation, through the Organisations section's own buttons.
  const orgField = (name) => page.locator(`#console-org-detail dd[data-field="${name}"]`).textContent();
  await page.fill('#console-org-search', ORG_SEARCH);
  await page.getByRole('button', { name: 'Find organisations' }).click();
  await waitStatus(page, /organisation\(s\)\.$/);
  result.orgFound = await rowsOf(page, 'console-orgs', 'orgId');
  await page.locator(`#console-orgs tr[data-org-id="${ORG_ID}"] button`).click();
  await waitStatus(page, /^Organisation /);
  await page.getByRole('button', { name: 'Disable organisation' }).click();
  await waitStatus(page, /^Disabled /);
  result.orgDisabled = await orgField('State');
  await page.getByRole('button', { name: 'Enable organisation' }).click();
  await waitStatus(page, /^Enabled /);
  result.orgEnabled = await orgField('State');
  await page.fill('#console-org-member', ALICE_ID);
  await page.getByRole('button', { name: "Revoke this member's org access" }).click();
  await waitStatus(page, /^Revoked /);
  result.orgMembersRevoked = await orgField('Members revoked');
  await page.getByRole('button', { name: "Revoke every member's sessions" }).click();
  await waitStatus(page, /^Revoked every member/);
  result.orgRevokedBefore = await orgField('Sessions revoked before');
  await page.getByRole('button', { name: 'Delete organisation…' }).click();
  await page.getByTestId('console-org-delete-confirm').waitFor({ state: 'visible' });
  await page.getByRole('button', { name: 'Delete organisation for good' }).click();
  await waitStatus(page, /^Deleted /);
  result.orgDeleted = await page.getByTestId('status').textContent();

  // Alice's detail, the key lookup and the audit on one page.
  await page.locator('#console-user').scrollIntoViewIfNeeded();
  result.screenshot = path.join(OUT, 'console.png');
  await page.screenshot({ path: result.screenshot, fullPage: true });
});
