#!/usr/bin/env node
// Browser test of "Team files" (organisations), run by tests/api/web/team.rs.
//
//   WEB_URL, E2E_OUT       as in e2e.mjs
//   ORG                    the organisation (Auth0 `org_id`) the three users sign in to
//   ALICE_SUB, BOB_SUB     two members who may write team files (write:team-files)
//   CAROL_SUB              a member who may only read them (read:team-files)
//   DAN_SUB                a user with write:team-files who signs in to no organisation
//
// On one tab, logging out between them: alice uploads a file of her own and two team files
// (one over 5 MiB: multipart); bob uploads his own and a team file, sees every team file and
// only his own, downloads alice's team file and shares it (a pre-signed URL fetched from node
// without keys); alice, back, sees bob's team file and not his own; carol sees the team's
// files, can download one, and is offered no team upload (her own upload stays); dan, in no
// organisation, gets his own files and a note that the team template was refused. Prints
// `E2E_RESULT {...}` with what each page showed.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { logIn, need, runScenario, waitStatus } from './lib.mjs';

const WEB_URL = need('WEB_URL').replace(/\/$/, '');
const OUT = need('E2E_OUT');
const ORG = need('ORG');
const ALICE = need('ALICE_SUB');
const BOB = need('BOB_SUB');
const CAROL = need('CAROL_SUB');
const DAN = need('DAN_SUB');

const WRITER = 'read:files write:files write:team-files';
const READER = 'read:files write:files read:team-files';
const sha = (b) => createHash('sha256').update(b).digest('hex');
const stamp = new Date().toISOString();
const aliceTeam = Buffer.from(`alice's team file, ${stamp}\n`);
const big = randomBytes(6 * 1024 * 1024 + 777); // over 5 MiB: two parts

/** Names shown in a files table: `files` (My files) or `team-files`. */
const names = (page, tbody) =>
  page.locator(`#${tbody} tr`).evaluateAll((rows) => rows.map((r) => r.dataset.name).sort());

async function upload(page, form, name, buffer, done) {
  await page.setInputFiles(`#${form} input[type=file]`, { name, mimeType: 'application/octet-stream', buffer });
  await page.locator(`#${form} button[type=submit]`).click();
  await waitStatus(page, done);
}

async function logOut(page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.waitForURL((u) => u.origin === WEB_URL && u.pathname === '/');
  await waitStatus(page, /^Not logged in/);
}

/** What a member's page shows: both lists, where team files live, what they may do there. */
async function seen(page) {
  return {
    who: await page.getByTestId('who').textContent(),
    own: await names(page, 'files'),
    team: await names(page, 'team-files'),
    teamShown: await page.getByTestId('team').isVisible(),
    teamBucket: await page.getByTestId('team-bucket').textContent(),
    teamPrefix: await page.getByTestId('team-prefix').textContent(),
    teamUpload: await page.locator('#team-upload-form').isVisible(),
    ownUpload: await page.locator('#upload-form').isVisible(),
    teamAccess: await page.getByTestId('team-access').textContent(),
  };
}

const expect = (what, got, want) => {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }
};

async function download(page, tbody, name) {
  const [d] = await Promise.all([
    page.waitForEvent('download'),
    page.locator(`#${tbody} tr[data-name="${name}"] button`, { hasText: 'Download' }).click(),
  ]);
  return readFileSync(await d.path());
}

await runScenario(OUT, async (page, result) => {
  // S3 calls, to prove the big team file went up in parts.
  const s3 = { createMultipart: 0, uploadPart: 0, completeMultipart: 0 };
  page.on('request', (r) => {
    const q = new URL(r.url()).searchParams;
    if (r.method() === 'POST' && q.has('uploads')) s3.createMultipart += 1;
    else if (r.method() === 'PUT' && q.has('partNumber')) s3.uploadPart += 1;
    else if (r.method() === 'POST' && q.has('uploadId')) s3.completeMultipart += 1;
  });
  // The templates the page asked stsvend for.
  const asked = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/v1/credentials') {
      asked.push(JSON.parse(r.postData() || '{}').access ?? '(default)');
    }
  });

  await page.goto(`${WEB_URL}/`);
  await waitStatus(page, /^Not logged in/);

  // Alice: her own file, a small and a big team file.
  await logIn(page, ALICE, WRITER, ORG);
  await waitStatus(page, /^Logged in; 0 file\(s\) in .*; 0 team file\(s\) in /);
  await upload(page, 'upload-form', 'alice-own.txt', Buffer.from('alice only\n'), /^Uploaded alice-own\.txt /);
  await upload(page, 'team-upload-form', 'alice-team.txt', aliceTeam, /^Uploaded alice-team\.txt .* to the team\.$/);
  await upload(page, 'team-upload-form', 'team-big.bin', big, /^Uploaded team-big\.bin .*multipart.* to the team\.$/);
  result.teamMultipart = { ...s3 };
  expect('the big team file as a 2-part multipart upload', s3, { createMultipart: 1, uploadPart: 2, completeMultipart: 1 });
  result.alice = await seen(page);
  expect("alice's files", [result.alice.own, result.alice.team], [['alice-own.txt'], ['alice-team.txt', 'team-big.bin']]);
  if (!result.alice.teamShown || !result.alice.teamUpload) throw new Error(`alice's team section: ${JSON.stringify(result.alice)}`);
  await page.screenshot({ path: path.join(OUT, 'team-alice.png'), fullPage: true });
  await logOut(page);

  // Bob: his own file and a team file; alice's team files, not her own.
  await logIn(page, BOB, WRITER, ORG);
  await upload(page, 'upload-form', 'bob-own.txt', Buffer.from('bob only\n'), /^Uploaded bob-own\.txt /);
  await upload(page, 'team-upload-form', 'bob-team.txt', Buffer.from('from bob\n'), /^Uploaded bob-team\.txt .* to the team\.$/);
  result.bob = await seen(page);
  expect("bob's files", [result.bob.own, result.bob.team], [['bob-own.txt'], ['alice-team.txt', 'bob-team.txt', 'team-big.bin']]);
  expect("the team's place on bob's page", [result.bob.teamBucket, result.bob.teamPrefix], [result.alice.teamBucket, result.alice.teamPrefix]);
  const got = await download(page, 'team-files', 'alice-team.txt');
  result.bobDownloaded = { bytes: got.length, matches: got.equals(aliceTeam) };
  const gotBig = await download(page, 'team-files', 'team-big.bin');
  result.bobDownloadedBig = { sha256: sha(gotBig), matches: gotBig.equals(big) };
  if (!result.bobDownloaded.matches || !result.bobDownloadedBig.matches) throw new Error(`bob's downloads: ${JSON.stringify(result)}`);

  // A share link to a team file: signed in the page with the vended keys, opened without any.
  await page.locator('#team-files tr[data-name="alice-team.txt"] button', { hasText: 'Share link' }).click();
  await waitStatus(page, /^Share link for alice-team\.txt, valid until /);
  const shareUrl = await page.getByTestId('team-share-url').inputValue();
  const shared = await fetch(shareUrl);
  const sharedBody = Buffer.from(await shared.arrayBuffer());
  result.share = {
    status: shared.status,
    teamPlace: new URL(shareUrl).pathname.startsWith(`/${result.bob.teamBucket}/${result.bob.teamPrefix}`),
    matches: sharedBody.equals(aliceTeam),
  };
  if (!result.share.teamPlace || !result.share.matches) throw new Error(`share link ${shareUrl}: ${JSON.stringify(result.share)}`);
  await logOut(page);

  // Alice again: bob's team file is there, his own file is not.
  await logIn(page, ALICE, WRITER, ORG);
  result.aliceAgain = await seen(page);
  expect("alice's files on her return", [result.aliceAgain.own, result.aliceAgain.team], [
    ['alice-own.txt'],
    ['alice-team.txt', 'bob-team.txt', 'team-big.bin'],
  ]);
  await logOut(page);

  // Carol reads the team's files and is offered no team upload.
  await logIn(page, CAROL, READER, ORG);
  result.carol = await seen(page);
  expect("carol's team files", result.carol.team, ['alice-team.txt', 'bob-team.txt', 'team-big.bin']);
  if (!result.carol.teamShown || result.carol.teamUpload || !result.carol.ownUpload) {
    throw new Error(`carol (team-read): ${JSON.stringify(result.carol)}`);
  }
  const carolGot = await download(page, 'team-files', 'bob-team.txt');
  result.carolDownloaded = carolGot.toString();
  result.screenshot = path.join(OUT, 'team-carol.png');
  await page.screenshot({ path: result.screenshot, fullPage: true });
  await logOut(page);

  // Dan holds the team permission but signed in to no organisation: stsvend refuses the team
  // template, and the page shows his own files alone and says why.
  await logIn(page, DAN, WRITER);
  result.dan = {
    status: await page.getByTestId('status').textContent(),
    teamShown: await page.getByTestId('team').isVisible(),
    note: await page.getByTestId('team-note').textContent(),
  };
  if (result.dan.teamShown || !/\(org_required\)/.test(result.dan.note) || /team file/.test(result.dan.status)) {
    throw new Error(`dan (no organisation): ${JSON.stringify(result.dan)}`);
  }
  result.asked = asked;
});
