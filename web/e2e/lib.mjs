// What the browser scenarios share (console.mjs, logout.mjs): Debian's Chromium through
// playwright-core, the issuer's login page, the page's status line, and one way to end:
// `E2E_RESULT {...}` on success, or failure.png, the page's log and exit 1.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { chromium } from 'playwright-core';

export const need = (k) => process.env[k] || (console.error(`e2e: ${k} is required`), process.exit(2));
export const STEP_TIMEOUT_MS = 30_000;

/** A fresh Chromium profile and page, with the page's console and failed requests logged. */
export async function openBrowser(out) {
  mkdirSync(out, { recursive: true });
  const profile = mkdtempSync(path.join(tmpdir(), 'stsvend-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync',
    ],
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = context.pages()[0] ?? (await context.newPage());
  const log = [];
  page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => log.push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { page, log, close };
}

/** Waits until the page's status line matches `re`; the error names what it said instead. */
export async function waitStatus(page, re) {
  await page
    .waitForFunction(
      ([src]) => new RegExp(src).test(document.getElementById('status')?.textContent ?? ''),
      [re.source],
      { timeout: STEP_TIMEOUT_MS },
    )
    .catch(async (e) => {
      const said = await page.getByTestId('status').textContent().catch(() => '?');
      throw new Error(`status never matched ${re}: "${said}" (${e.message})`);
    });
}

/** Clicks "Log in" and signs in on the issuer's page as `sub` (optionally with permissions,
 * and into an organisation: the token's `org_id`). */
export async function logIn(page, sub, permissions, org) {
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForSelector('input[name="sub"]');
  await page.fill('input[name="sub"]', sub);
  if (permissions) await page.fill('input[name="permissions"]', permissions);
  if (org) await page.fill('input[name="org_id"]', org);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitStatus(page, /^Logged in; \d+ file\(s\)/);
}

/** Runs `scenario(page, result)`; prints the result line or the failure with the page's log. */
export async function runScenario(out, scenario) {
  const { page, log, close } = await openBrowser(out);
  const result = {};
  try {
    await scenario(page, result);
    console.log(`E2E_RESULT ${JSON.stringify(result)}`);
    await close();
  } catch (e) {
    const shot = path.join(out, `failure-${path.basename(process.argv[1], '.mjs')}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.error(`e2e: FAILED: ${e.stack || e}`);
    const said = await page.getByTestId('status').textContent().catch(() => '?');
    console.error(`e2e: page at ${page.url()}, status "${said}", screenshot ${shot}`);
    console.error(`e2e: partial result ${JSON.stringify(result)}`);
    for (const line of log) console.error(`e2e: ${line}`);
    await close();
    process.exit(1);
  }
}

/** The access key id a SigV4 request was signed with, or undefined. */
export async function signingKey(request) {
  const auth = (await request.allHeaders()).authorization ?? '';
  const m = /Credential=([A-Z0-9]+)\//.exec(auth);
  return m?.[1];
}
