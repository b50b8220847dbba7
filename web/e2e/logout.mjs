#!/usr/bin/env node
// Browser test of logging out, and of a user without the admin permission, run by
// tests/api/web/logout.rs.
//
//   WEB_URL, E2E_OUT     as in e2e.mjs
//   API                  stsvend's base URL (the page's admin calls are repeated from the page)
//   ALICE_SUB, BOB_SUB   two users without the admin permission; each bucket holds one file
//   ALICE_FILE, BOB_FILE the name of that file
//
// Alice logs in: no console is offered, #/console shows her files, and every admin route
// answers her token 403 (fetched from the page, so through CORS). She logs out: the page holds
// no token or key of hers any more (storage, page text). Bob logs in on the same tab and sees
// only his file, and every S3 request from then on is signed with keys vended to him.

import { logIn, need, runScenario, signingKey, waitStatus } from './lib.mjs';

const WEB_URL = need('WEB_URL').replace(/\/$/, '');
const OUT = need('E2E_OUT');
const API = need('API').replace(/\/$/, '');
const ALICE = need('ALICE_SUB');
const BOB = need('BOB_SUB');
const ALICE_FILE = need('ALICE_FILE');
const BOB_FILE = need('BOB_FILE');

const listed = (page) => page.locator('#files tr').evaluateAll((rows) => rows.map((r) => r.dataset.key).sort());

/** Every value in the page's sessionStorage and localStorage, joined. */
const storage = (page) =>
  page.evaluate(() =>
    [sessionStorage, localStorage].flatMap((s) => Object.keys(s).map((k) => `${k}=${s.getItem(k)}`)).join('\n'),
  );

await runScenario(OUT, async (page, result) => {
  // Keys vended to the page, and the key each S3 request was signed with.
  const vends = [];
  const signed = [];
  page.on('response', async (r) => {
    if (r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/credentials' && r.ok()) {
      const body = await r.json().catch(() => undefined);
      if (body) vends.push(body);
    }
  });
  page.on('request', async (r) => {
    const key = await signingKey(r);
    if (key) signed.push(key);
  });

  await page.goto(`${WEB_URL}/`);
  await waitStatus(page, /^Not logged in/);
  await logIn(page, ALICE);
  result.alice = { who: await page.getByTestId('who').textContent(), files: await listed(page) };
  if (result.alice.who !== ALICE || JSON.stringify(result.alice.files) !== JSON.stringify([ALICE_FILE])) {
    throw new Error(`alice's page: ${JSON.stringify(result.alice)}`);
  }
  const aliceKeys = vends.map((v) => v.AccessKeyId);
  const aliceBucket = await page.getByTestId('bucket').textContent();

  // No console for her: no link, and #/console leaves her on her files.
  result.consoleLinks = await page.locator('#console-link').count();
  await page.goto(`${WEB_URL}/#/console`);
  result.consoleViews = await page.locator('#console').count();
  result.filesShown = await page.locator('#app').isVisible();
  if (result.consoleLinks !== 0 || result.consoleViews !== 0 || !result.filesShown) {
    throw new Error(`a user without the permission is offered the console: ${JSON.stringify(result)}`);
  }
  // The server is the gate: her token gets 403 from every admin route, read through CORS.
  const tokens = await page.evaluate(() => {
    const key = Object.keys(sessionStorage).find((k) => k.startsWith('oidc.user:'));
    const u = key ? JSON.parse(sessionStorage.getItem(key)) : {};
    return { access: u.access_token, refresh: u.refresh_token };
  });
  if (!tokens.access) throw new Error('no access token in sessionStorage to try the admin API with');
  result.adminAnswers = await page.evaluate(
    async ([api, token]) => {
      const routes = [
        ['GET', '/users'], ['GET', '/users/aaaaaaaaaaaaaaaaaaaaaaaaaa'], ['POST', '/users/aaaaaaaaaaaaaaaaaaaaaaaaaa/disable'],
        ['POST', '/users/aaaaaaaaaaaaaaaaaaaaaaaaaa/enable'], ['POST', '/users/aaaaaaaaaaaaaaaaaaaaaaaaaa/revoke'],
        ['DELETE', '/users/aaaaaaaaaaaaaaaaaaaaaaaaaa'], ['GET', '/access-keys/ASIAAAAAAAAAAAAAAAAA'], ['GET', '/audit'],
      ];
      const out = {};
      for (const [method, route] of routes) {
        const r = await fetch(`${api}/admin/v1${route}`, { method, headers: { Authorization: `Bearer ${token}` } });
        out[`${method} ${route}`] = `${r.status} ${(await r.json()).error?.code}`;
      }
      return out;
    },
    [API, tokens.access],
  );
  for (const [route, answer] of Object.entries(result.adminAnswers)) {
    if (answer !== '403 insufficient_scope') throw new Error(`${route} answered alice ${answer}`);
  }
  await page.goto(`${WEB_URL}/#/`);
  await waitStatus(page, /^Logged in; 1 file\(s\)/);

  // Log out, confirming on the issuer's page.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.waitForURL((u) => u.origin === WEB_URL && u.pathname === '/');
  await waitStatus(page, /^Not logged in/);
  const stored = await storage(page);
  const text = await page.locator('body').innerText();
  result.afterLogout = {
    url: page.url(),
    storedEntries: stored ? stored.split('\n').map((l) => l.split('=')[0]) : [],
    tokenInStorage: stored.includes(tokens.access) || (!!tokens.refresh && stored.includes(tokens.refresh)),
    keyOnPage: aliceKeys.some((k) => text.includes(k)) || text.includes(aliceBucket),
    loginOffered: await page.getByRole('button', { name: 'Log in' }).isVisible(),
  };
  if (result.afterLogout.tokenInStorage || result.afterLogout.keyOnPage || !result.afterLogout.loginOffered
      || result.afterLogout.storedEntries.some((k) => k.startsWith('oidc.user:'))) {
    throw new Error(`after logout the page still holds alice's session: ${JSON.stringify(result.afterLogout)}`);
  }

  // Bob on the same tab: the issuer asks who (alice's session there ended too).
  const vendsBefore = vends.length;
  const signedBefore = signed.length;
  await logIn(page, BOB);
  await page.waitForTimeout(300); // the request listener reads headers asynchronously
  const bobKeys = vends.slice(vendsBefore).map((v) => v.AccessKeyId);
  result.bob = {
    who: await page.getByTestId('who').textContent(),
    bucket: await page.getByTestId('bucket').textContent(),
    files: await listed(page),
    vends: bobKeys.length,
    signedWith: [...new Set(signed.slice(signedBefore))],
  };
  if (result.bob.who !== BOB || result.bob.bucket === aliceBucket) throw new Error(`bob's page: ${JSON.stringify(result.bob)}`);
  if (JSON.stringify(result.bob.files) !== JSON.stringify([BOB_FILE])) {
    throw new Error(`bob sees ${JSON.stringify(result.bob.files)}, expected only ${BOB_FILE}`);
  }
  if (!result.bob.signedWith.length || result.bob.signedWith.some((k) => !bobKeys.includes(k) || aliceKeys.includes(k))) {
    throw new Error(`S3 requests after bob's login signed with keys not his: ${JSON.stringify({ ...result.bob, aliceKeys, bobKeys })}`);
  }
});
