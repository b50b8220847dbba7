import './style.css';

import type { Storage, VendInfo } from '@stsvend/credentials';

import { teamTemplate, teamWritable, vend } from './access';
import { accessToken, CALLBACK_PATH, userManager } from './auth';
import { loadConfig } from './config';
import { CONSOLE_HASH, mountConsole } from './console';
import { errorCode, listFiles, s3Client } from './files';
import { el } from './page';
import { sdkShareLink, shareLink } from './share';
import { mountSpace } from './space';
import { showUsage } from './usage';

/** The SDK refreshes credentials this long before `Expiration` (@smithy/core EXPIRATION_MS). */
const SDK_REFRESH_MS = 5 * 60 * 1000;

function status(text: string, state = 'busy') {
  el('status').textContent = text;
  document.body.dataset.state = state;
}

/** `s3://<bucket>/<prefix>`. */
const place = (bucket: string, prefix: string) => `s3://${bucket}/${prefix}`;

function showCredentials(v: VendInfo, count: number) {
  const exp = v.expiration;
  const rows: [string, string][] = [
    ['Access key', v.accessKeyId],
    ['Access', v.storage.access],
    ['Prefix', v.storage.prefix || '(none: the bucket is yours)'],
    ...(v.storage.orgBucket !== undefined
      ? [['Team storage', place(v.storage.orgBucket, v.storage.orgPrefix ?? '')] as [string, string]]
      : []),
    ['Region', v.storage.region],
    ['Endpoint', v.storage.endpoint ?? '(AWS)'],
    ['Expires', exp.toISOString()],
    ['SDK refreshes after', new Date(exp.getTime() - SDK_REFRESH_MS).toISOString()],
    ['Vends so far', String(count)],
  ];
  el('creds').replaceChildren(
    ...rows.flatMap(([k, val]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = val;
      return [dt, dd];
    }),
  );
}

/**
 * A bucket and an optional key prefix from what the user typed: `bucket`, `bucket/prefix/` or
 * either with `s3://` in front.
 */
function parsePlace(text: string): { bucket: string; prefix: string } {
  const rest = text.trim().replace(/^s3:\/\//, '');
  const slash = rest.indexOf('/');
  return slash < 0 ? { bucket: rest, prefix: '' } : { bucket: rest.slice(0, slash), prefix: rest.slice(slash + 1) };
}

/**
 * What a failed look into someone else's bucket means. S3 answers AccessDenied; but when that
 * 403 carries no CORS headers (MiniStack sends none on IAM denials) the browser only reports a
 * failed fetch, and the page cannot read the code.
 */
function probeOutcome(e: unknown): string {
  if (e instanceof TypeError) return 'refused (the browser hides the reason: S3 sent its error without CORS headers)';
  return errorCode(e);
}

/** What the Team files section says about the member's access. */
function teamAccessText(storage: Storage): string {
  return teamWritable(storage)
    ? 'Shared by every member of your organisation: what you upload here, they see.'
    : 'Shared by every member of your organisation. Your role lets you read these files, not add to them.';
}

async function main() {
  const cfg = await loadConfig();
  const um = userManager(cfg);
  el('login').onclick = () => void um.signinRedirect();
  // Logout drops the page's keys (the S3 client, what the page shows) and its tokens before
  // leaving for the issuer's logout, so nothing of this user outlives the click on this tab.
  let dropKeys = () => {};
  el('logout').onclick = async () => {
    const idToken = (await um.getUser())?.id_token;
    dropKeys();
    await um.removeUser();
    await um.clearStaleState();
    await um.signoutRedirect({ id_token_hint: idToken });
  };

  if (location.pathname === CALLBACK_PATH) {
    status('Finishing login…');
    await um.signinRedirectCallback();
    history.replaceState(null, '', '/');
  }
  const user = await um.getUser();
  if (!user || !(await accessToken(um))) {
    el('login').hidden = false;
    el('intro').hidden = false;
    status('Not logged in.', 'logged-out');
    return;
  }
  el('who').textContent = user.profile.sub;
  el('logout').hidden = false;
  mountConsole({ api: cfg.api, adminPermission: cfg.adminPermission, token: () => accessToken(um), status }, (await accessToken(um)) ?? '');

  status('Fetching S3 credentials from stsvend…');
  let vends = 0;
  // Keys from @stsvend/credentials (clients/js): vended again whenever the SDK asks, each
  // vend shown on the page. One session reaches both the user's files and, under a team
  // template, their organisation's.
  const { credentials, storage, teamRefused } = await vend(
    {
      url: cfg.api,
      token: async () => {
        const token = await accessToken(um);
        if (!token) throw new Error('the login session ended: log in again');
        return token;
      },
      onVend: (v) => showCredentials(v, ++vends),
    },
    teamTemplate((await accessToken(um)) ?? ''),
  );
  const bucket = storage.bucket;
  // Every key of the user's starts with the prefix; the page shows names without it.
  const prefix = storage.prefix;
  const s3 = s3Client(storage.region, storage.endpoint, credentials);
  const team = storage.orgBucket === undefined ? undefined : { bucket: storage.orgBucket, prefix: storage.orgPrefix ?? '' };
  dropKeys = () => {
    s3.destroy();
    for (const id of ['creds', 'files', 'bucket', 'prefix', 'probe-result', 'team-files', 'team-bucket', 'team-prefix']) {
      el(id).replaceChildren();
    }
    el('app').hidden = true;
  };
  el('bucket').textContent = bucket;
  el('prefix').textContent = prefix;
  el('app').hidden = location.hash === CONSOLE_HASH;

  // One action at a time; its outcome (or S3 error code) goes to the status line.
  const run = async (busy: string, action: () => Promise<string>) => {
    status(busy);
    try {
      status(await action(), 'ready');
    } catch (e) {
      status(`Failed: ${errorCode(e)}`, 'error');
    }
  };

  const mine = mountSpace({
    ids: '',
    s3,
    bucket,
    prefix,
    canUpload: true,
    where: '',
    noun: 'file(s)',
    // The key is relative to the caller's storage: stsvend puts it under their prefix.
    share: (_key, name) => shareLink(credentials, name),
    run,
    status,
  });
  const teamFiles = team
    ? mountSpace({
      ids: 'team-',
      s3,
      ...team,
      canUpload: teamWritable(storage),
      where: ' to the team',
      noun: 'team file(s)',
        share: (key) => sdkShareLink(s3, credentials, team.bucket, key),
        run,
        status,
      })
    : undefined;
  if (team) {
    el('team-bucket').textContent = team.bucket;
    el('team-prefix').textContent = team.prefix;
    el('team-access').textContent = teamAccessText(storage);
  }
  el('team').hidden = !team;
  el('team-note').hidden = !teamRefused;
  el('team-note').textContent = teamRefused ? `No team files: stsvend refused the team template (${teamRefused}).` : '';

  el<HTMLFormElement>('probe-form').onsubmit = (ev) => {
    ev.preventDefault();
    // Another bucket, or (in a shared bucket) another user's prefix: `bucket/users/<id>/`.
    const other = el<HTMLInputElement>('probe-bucket').value.trim();
    const target = parsePlace(other);
    const out = el('probe-result');
    out.textContent = `Listing ${other} with your keys…`;
    listFiles(s3, target.bucket, target.prefix).then(
      (objs) => (out.textContent = `Listed ${objs.length} object(s) in ${other}: your keys reach it!`),
      (e) => (out.textContent = `${other}: ${probeOutcome(e)}`),
    );
  };

  await showUsage(cfg.api, (await accessToken(um)) ?? '').catch((e) => console.warn('usage', e));
  const own = prefix ? place(bucket, prefix) : 'your bucket';
  await run('Listing…', async () => {
    const listed = `Logged in; ${await mine.refresh()} file(s) in ${own}`;
    if (!team || !teamFiles) return `${listed}.`;
    return `${listed}; ${await teamFiles.refresh()} team file(s) in ${place(team.bucket, team.prefix)}.`;
  });
}

main().catch((e) => {
  console.error(e);
  status(`Error: ${e instanceof Error ? e.message : String(e)}`, 'error');
});
