#!/usr/bin/env node
// Browser test of the operator console's Usage section (src/console-usage.ts), run by
// tests/api/quota/usage_console.rs.
//
//   WEB_URL, E2E_OUT   as in e2e.mjs
//   OPERATOR_SUB       the operator, logged in with ADMIN_PERMISSION
//   STALE_USER_ID      a listed user who wrote more since their last reconciliation
//
// The console lists the largest users (and organisations) by bytes; "Reconcile" on the stale
// user lists their storage and the row shows the new figure.

import { logIn, need, runScenario, waitStatus } from './lib.mjs';

const WEB_URL = need('WEB_URL').replace(/\/$/, '');
const OUT = need('E2E_OUT');
const OPERATOR = need('OPERATOR_SUB');
const PERMISSION = need('ADMIN_PERMISSION');
const STALE = need('STALE_USER_ID');

const rows = (page, testid) =>
  page
    .locator(`[data-testid="${testid}"] tbody tr`)
    .evaluateAll((trs) => trs.map((r) => [r.dataset.id, Number(r.dataset.bytes)]));

await runScenario(OUT, async (page, result) => {
  await page.goto(`${WEB_URL}/`);
  await waitStatus(page, /^Not logged in/);
  await logIn(page, OPERATOR, `read:files write:files ${PERMISSION}`);
  await page.getByRole('link', { name: 'Operator console' }).click();
  await page.locator('[data-testid="console-usage-users"] tbody tr').first().waitFor();
  result.usersBefore = await rows(page, 'console-usage-users');
  result.orgs = await rows(page, 'console-usage-orgs');
  result.offShown = await page.getByTestId('console-usage-off').isVisible();

  await page.locator(`#console-usage-users tr[data-id="${STALE}"] button`).click();
  await waitStatus(page, /^Reconciled /);
  result.status = await page.getByTestId('status').textContent();
  result.usersAfter = await rows(page, 'console-usage-users');
  await page.screenshot({ path: `${OUT}/console-usage.png`, fullPage: true });
});
