#!/usr/bin/env node
// A plain HTML form upload in Debian's Chromium (playwright-core): no JavaScript on the page,
// no AWS SDK. The page is the one tests/api/presign/forms.rs writes from a /v1/presign/post
// answer: hidden inputs for the fields, a file input named `file`, a submit button. The form
// POST is a navigation, not a CORS request.
//
//   FORM_PAGE   the HTML file (opened as file://)
//   FILE_BYTES  size of the file to choose (random bytes), named upload.bin
//   CHROMIUM    browser binary (/usr/bin/chromium)
//
// Prints `FORM_RESULT {"status": ..., "body": "...", "sha256": "..."}`: the status and text S3
// answered the browser with, and the sha256 of the bytes chosen.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

import { chromium } from 'playwright-core';

const need = (k) => process.env[k] || (console.error(`form-upload: ${k} is required`), process.exit(2));
const PAGE = need('FORM_PAGE');
const BYTES = Number(need('FILE_BYTES'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const buffer = randomBytes(BYTES);
const profile = mkdtempSync(path.join(tmpdir(), 'stsvend-form-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
try {
  context.setDefaultTimeout(30_000);
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(pathToFileURL(PAGE).href);
  await page.setInputFiles('input[name="file"]', { name: 'upload.bin', mimeType: 'application/octet-stream', buffer });
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.click('button[type="submit"]'),
  ]);
  const body = await response.text();
  const sha256 = createHash('sha256').update(buffer).digest('hex');
  console.log(`FORM_RESULT ${JSON.stringify({ status: response.status(), body, sha256 })}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
