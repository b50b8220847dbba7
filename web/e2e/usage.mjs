#!/usr/bin/env node
// Browser test of the usage bar (src/usage.ts), run by tests/api/quota/usage_bar.rs.
//
//   WEB_URL, E2E_OUT   as in e2e.mjs
//   E2E_SUB            the user to log in as
//
// The service has quotas off: /v1/me has no `usage` and the page shows no bar. Then /v1/me's
// answer gets a `usage` added in the browser (the figures of a service with quotas on), one
// state per reload: under its limits, at 90% of one (warning), over one.

import { logIn, need, runScenario, waitStatus } from './lib.mjs';

const WEB_URL = need('WEB_URL').replace(/\/$/, '');
const OUT = need('E2E_OUT');
const SUB = need('E2E_SUB');

const STATES = {
  under: { bytes: 1024, objects: 2, limit_bytes: 10240, limit_objects: null, as_of: '2026-12-07T12:00:00Z' },
  warning: { bytes: 9216, objects: 2, limit_bytes: 10240, limit_objects: 100, as_of: '2026-12-07T12:00:00Z' },
  over: { bytes: 100, objects: 10, limit_bytes: null, limit_objects: 10, as_of: '2026-12-07T12:00:00Z' },
};

await runScenario(OUT, async (page, result) => {
  await page.goto(WEB_URL);
  await logIn(page, SUB);
  result.off = { hidden: await page.getByTestId('usage').isHidden() };

  result.states = {};
  for (const [name, usage] of Object.entries(STATES)) {
    await page.unroute('**/v1/me');
    await page.route('**/v1/me', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      await route.fulfill({ response, json: { ...body, usage } });
    });
    await page.reload();
    await waitStatus(page, /^Logged in; \d+ file\(s\)/);
    const bar = page.getByTestId('usage');
    result.states[name] = {
      hidden: await bar.isHidden(),
      level: await bar.getAttribute('data-level'),
      text: await page.getByTestId('usage-text').textContent(),
      fill: await page.locator('#usage-fill').evaluate((e) => e.style.width),
    };
  }
});
