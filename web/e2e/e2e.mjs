#!/usr/bin/env node
// Browser test of the web app: Debian's Chromium driven by playwright-core.
//
//   WEB_URL        app origin, e.g. http://127.0.0.1:5174 (served by serve.mjs; the issuer
//                  must list WEB_URL/callback as a redirect URI)
//   E2E_SUB        user to log in as on the issuer's login page (auth0|...)
//   OTHER_BUCKET   another user's storage: their bucket, or `<shared bucket>/<their prefix>` in
//                  prefix mode; listing it with this user's keys must be AccessDenied
//   E2E_OUT        directory for screenshot.png, login.png (the issuer's page) and failure.png
//   CHROMIUM       browser binary (/usr/bin/chromium)
//   E2E_REFRESH=1  also check the SDK's refresh: stsvend must vend sessions shorter than
//                  5 min + a few seconds (aws.allow_short_sessions), so the SDK, which asks
//                  its provider again within 5 min of Expiration, does so during the test
//
// Logs in through the login page, uploads a small file (single PUT) and a file over 5 MiB
// (multipart: the test watches for CreateMultipartUpload, UploadPart x2, Complete), lists,
// downloads both and compares bytes, gets a share link (pre-signed GET URL) for the small one
// and fetches it without keys, then tries the other bucket: in the page (which must not
// list it) and, with the very keys the page was vended (captured from its /v1/credentials
// response), from node, where S3's answer is readable: AccessDenied. Works in both storage
// modes: the page shows the bucket and the prefix the vend named ("" in bucket mode), its file
// names without the prefix, and every key it wrote starts with the prefix. Prints one JSON line
// (`E2E_RESULT {...}`) and exits 0 on success; exits 1 with the page's log otherwise.

import { randomBytes, createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { chromium } from 'playwright-core';

const need = (k) => process.env[k] || (console.error(`e2e: ${k} is required`), process.exit(2));
const WEB_URL = need('WEB_URL').replace(/\/$/, '');
const SUB = need('E2E_SUB');
const OTHER_BUCKET = need('OTHER_BUCKET');
const [OTHER, OTHER_PREFIX = ''] = OTHER_BUCKET.split(/\/(.*)/s);
const OUT = need('E2E_OUT');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_TIMEOUT_MS = 30_000;

const small = Buffer.from(`hello from the stsvend browser test, ${new Date().toISOString()}\n`);
const big = randomBytes(6 * 1024 * 1024 + 4321); // over 5 MiB: two parts
const files = { 'hello.txt': small, 'big.bin': big };
const sha = (b) => createHash('sha256').update(b).digest('hex');

const log = [];
const t0 = Date.now();
const timings = {};
const mark = (name) => (timings[name] = Date.now() - t0);

mkdirSync(OUT, { recursive: true });
rmSync(path.join(OUT, 'failure.png'), { force: true }); // a previous run's, misleading now
const profile = mkdtempSync(path.join(tmpdir(), 'stsvend-e2e-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1100, height: 900 },
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync',
  ],
});
context.setDefaultTimeout(STEP_TIMEOUT_MS);
const page = context.pages()[0] ?? (await context.newPage());
page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
page.on('requestfailed', (r) => log.push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));

// S3 calls as the browser made them, to prove the big file went up in parts.
const s3 = { createMultipart: 0, uploadPart: 0, completeMultipart: 0, putObject: 0 };
page.on('request', (r) => {
  const u = new URL(r.url());
  const q = u.searchParams;
  if (r.method() === 'POST' && q.has('uploads')) s3.createMultipart += 1;
  else if (r.method() === 'PUT' && q.has('partNumber')) s3.uploadPart += 1;
  else if (r.method() === 'POST' && q.has('uploadId')) s3.completeMultipart += 1;
  else if (r.method() === 'PUT' && !q.has('uploadId') && u.origin !== WEB_URL) s3.putObject += 1;
});

// Every set of keys stsvend vended to the page: for the refresh check and, the latest, for the
// cross-user check from node.
const vends = [];
let vended;
page.on('response', async (r) => {
  if (r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/credentials' && r.ok()) {
    const body = await r.json().catch(() => undefined);
    if (body) vends.push((vended = body));
  }
});

/** S3 error code of `cmd` sent with the page's keys, or "ok". */
async function withPageKeys(cmd) {
  const client = new S3Client({
    region: vended.Region,
    ...(vended.Endpoint ? { endpoint: vended.Endpoint, forcePathStyle: true } : {}),
    credentials: {
      accessKeyId: vended.AccessKeyId,
      secretAccessKey: vended.SecretAccessKey,
      sessionToken: vended.SessionToken,
    },
    maxAttempts: 1,
  });
  try {
    const out = await client.send(cmd);
    return out.Contents ? `ok: ${out.Contents.map((o) => o.Key).sort().join(',')}` : 'ok';
  } catch (e) {
    return e.name;
  } finally {
    client.destroy();
  }
}

const status = page.getByTestId('status');
async function waitStatus(re) {
  await page.waitForFunction(
    ([src]) => new RegExp(src).test(document.getElementById('status')?.textContent ?? ''),
    [re.source],
    { timeout: STEP_TIMEOUT_MS },
  ).catch(async (e) => {
    throw new Error(`status never matched ${re}: "${await status.textContent()}" (${e.message})`);
  });
}

const result = { sub: SUB };
try {
  await page.goto(`${WEB_URL}/`);
  await waitStatus(/^Not logged in/);
  await page.getByRole('button', { name: 'Log in' }).click();

  // The issuer's login page: offers the demo user (README), takes any sub, no password.
  await page.waitForSelector('input[name="sub"]');
  result.loginPage = new URL(page.url()).origin;
  result.loginPrefill = await page.inputValue('input[name="sub"]');
  await page.screenshot({ path: path.join(OUT, 'login.png') });
  await page.fill('input[name="sub"]', SUB);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitStatus(/^Logged in; 0 file\(s\)/);
  mark('loggedIn');
  result.who = await page.getByTestId('who').textContent();
  result.bucket = await page.getByTestId('bucket').textContent();
  result.prefix = await page.getByTestId('prefix').textContent();
  if (result.who !== SUB) throw new Error(`page shows user ${result.who}, expected ${SUB}`);

  for (const [name, buffer] of Object.entries(files)) {
    await page.setInputFiles('#file', { name, mimeType: 'application/octet-stream', buffer });
    await page.getByRole('button', { name: 'Upload' }).click();
    await waitStatus(new RegExp(`^Uploaded ${name.replace('.', '\\.')} `));
  }
  mark('uploaded');
  result.s3Requests = { ...s3 };
  if (s3.createMultipart !== 1 || s3.uploadPart !== 2 || s3.completeMultipart !== 1) {
    throw new Error(`big.bin was not a 2-part multipart upload: ${JSON.stringify(s3)}`);
  }

  await page.getByRole('button', { name: 'Refresh list' }).click();
  await waitStatus(/^2 file\(s\)\./);
  // What the table shows (names without the prefix) and the keys behind its rows.
  result.listed = await page.locator('#files tr').evaluateAll((rows) => rows.map((r) => r.cells[0].textContent).sort());
  result.listedKeys = await page.locator('#files tr').evaluateAll((rows) => rows.map((r) => r.dataset.key).sort());
  if (JSON.stringify(result.listed) !== JSON.stringify(Object.keys(files).sort())) {
    throw new Error(`listing shows ${JSON.stringify(result.listed)}`);
  }
  const ownKeys = Object.keys(files).map((n) => result.prefix + n).sort();
  if (JSON.stringify(result.listedKeys) !== JSON.stringify(ownKeys)) {
    throw new Error(`listed keys ${JSON.stringify(result.listedKeys)}, expected ${JSON.stringify(ownKeys)}`);
  }

  result.downloads = {};
  for (const [name, buffer] of Object.entries(files)) {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator(`#files tr[data-name="${name}"] button`, { hasText: 'Download' }).click(),
    ]);
    const got = readFileSync(await download.path());
    if (!got.equals(buffer)) {
      throw new Error(`${name}: downloaded ${got.length} bytes sha256 ${sha(got)}, uploaded ${buffer.length} sha256 ${sha(buffer)}`);
    }
    result.downloads[name] = { bytes: got.length, sha256: sha(got), suggested: download.suggestedFilename() };
    if (download.suggestedFilename() !== name) throw new Error(`${name} was saved as ${download.suggestedFilename()}`);
  }
  mark('downloaded');

  // The share-link button: a pre-signed GET URL from stsvend, fetched from node with no keys.
  await page.locator('#files tr[data-name="hello.txt"] button', { hasText: 'Share link' }).click();
  await waitStatus(/^Share link for hello\.txt, valid until /);
  const shareUrl = await page.getByTestId('share-url').inputValue();
  const shared = Buffer.from(await (await fetch(shareUrl)).arrayBuffer());
  // Path style here (a custom endpoint): /<bucket>/<prefix><key>, the caller's own place.
  result.share = { ownBucket: new URL(shareUrl).pathname.startsWith(`/${result.bucket}/${result.prefix}`), matches: shared.equals(small) };
  if (!result.share.ownBucket || !result.share.matches) {
    throw new Error(`share link ${shareUrl} gave ${shared.length} bytes: ${JSON.stringify(result.share)}`);
  }
  mark('shared');

  if (process.env.E2E_REFRESH === '1') {
    // The SDK refreshes once Expiration is under 5 minutes away: wait for that moment (plus
    // a margin for stsvend's whole-second cache check), then use S3 once more.
    const before = vends.length;
    const last = vends.at(-1);
    const refreshAt = Date.parse(last.Expiration) - 5 * 60 * 1000 + 1500;
    const waitMs = refreshAt - Date.now();
    if (waitMs > 60_000) throw new Error(`E2E_REFRESH: sessions end ${last.Expiration}, too far off to wait`);
    await page.waitForTimeout(Math.max(0, waitMs));
    await page.getByRole('button', { name: 'Refresh list' }).click();
    await waitStatus(/^2 file\(s\)\./);
    const shown = await page.getByTestId('creds').textContent();
    result.refresh = {
      waitedMs: Math.max(0, waitMs),
      vendsBefore: before,
      vendsAfter: vends.length,
      newKey: vends.at(-1).AccessKeyId !== last.AccessKeyId,
      pageShowsNewKey: shown.includes(vends.at(-1).AccessKeyId),
    };
    if (vends.length <= before || !result.refresh.newKey || !result.refresh.pageShowsNewKey) {
      throw new Error(`the SDK did not refresh its credentials: ${JSON.stringify(result.refresh)}`);
    }
    mark('refreshed');
  }

  await page.fill('#probe-bucket', OTHER_BUCKET);
  await page.getByRole('button', { name: 'Try to list it' }).click();
  const probe = page.getByTestId('probe-result');
  await page.waitForFunction(() => !/^Listing /.test(document.getElementById('probe-result')?.textContent ?? ''));
  result.otherBucketInPage = await probe.textContent();
  if (!/^\S+: (AccessDenied|refused)/.test(result.otherBucketInPage)) {
    throw new Error(`another user's bucket: the page says "${result.otherBucketInPage}"`);
  }
  if (!vended) throw new Error('no /v1/credentials response was seen');
  const own = result.prefix || undefined;
  result.pageKeys = {
    ownList: await withPageKeys(new ListObjectsV2Command({ Bucket: result.bucket, Prefix: own })),
    // The whole bucket: the user's own in bucket mode; in prefix mode, refused.
    bucketList: await withPageKeys(new ListObjectsV2Command({ Bucket: result.bucket })),
    otherList: await withPageKeys(new ListObjectsV2Command({ Bucket: OTHER, Prefix: OTHER_PREFIX || undefined })),
    otherGet: await withPageKeys(new GetObjectCommand({ Bucket: OTHER, Key: `${OTHER_PREFIX}hello.txt` })),
    otherPut: await withPageKeys(new PutObjectCommand({ Bucket: OTHER, Key: `${OTHER_PREFIX}x`, Body: 'x' })),
  };
  const ownListed = `ok: ${ownKeys.join(',')}`;
  const want = {
    ownList: ownListed,
    bucketList: result.prefix ? 'AccessDenied' : ownListed,
    otherList: 'AccessDenied',
    otherGet: 'AccessDenied',
    otherPut: 'AccessDenied',
  };
  if (JSON.stringify(result.pageKeys) !== JSON.stringify(want)) {
    throw new Error(`the page's keys: expected ${JSON.stringify(want)}, got ${JSON.stringify(result.pageKeys)}`);
  }
  mark('probed');

  result.screenshot = path.join(OUT, 'screenshot.png');
  await page.screenshot({ path: result.screenshot, fullPage: true });
  result.timingsMs = timings;
  console.log(`E2E_RESULT ${JSON.stringify(result)}`);
  await context.close();
  rmSync(profile, { recursive: true, force: true });
} catch (e) {
  const shot = path.join(OUT, 'failure.png');
  await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
  console.error(`e2e: FAILED: ${e.stack || e}`);
  console.error(`e2e: page at ${page.url()}, status "${await status.textContent().catch(() => '?')}", screenshot ${shot}`);
  console.error(`e2e: partial result ${JSON.stringify(result)}; S3 requests ${JSON.stringify(s3)}`);
  for (const line of log) console.error(`e2e: ${line}`);
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}
