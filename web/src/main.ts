import './style.css';

import { fromStsvend, type VendInfo } from '@stsvend/credentials';

import { accessToken, CALLBACK_PATH, userManager } from './auth';
import { loadConfig } from './config';
import { CONSOLE_HASH, mountConsole } from './console';
import { downloadFile, errorCode, listFiles, PART_SIZE, s3Client, uploadFile } from './files';
import { shareLink } from './share';

/** The SDK refreshes credentials this long before `Expiration` (@smithy/core EXPIRATION_MS). */
const SDK_REFRESH_MS = 5 * 60 * 1000;

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing from index.html`);
  return e as T;
}

function status(text: string, state = 'busy') {
  el('status').textContent = text;
  document.body.dataset.state = state;
}

const fmtBytes = (n: number) =>
  n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;

function showCredentials(v: VendInfo, count: number) {
  const exp = v.expiration;
  const rows: [string, string][] = [
    ['Access key', v.accessKeyId],
    ['Access', v.storage.access],
    ['Prefix', v.storage.prefix || '(none: the bucket is yours)'],
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

function saveBlob(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
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
  // vend shown on the page.
  const credentials = fromStsvend({
    url: cfg.api,
    token: async () => {
      const token = await accessToken(um);
      if (!token) throw new Error('the login session ended: log in again');
      return token;
    },
    onVend: (v) => showCredentials(v, ++vends),
  });
  const storage = await credentials.storage();
  const bucket = storage.bucket;
  // Every key of the user's starts with the prefix; the page shows names without it.
  const prefix = storage.prefix;
  const s3 = s3Client(storage.region, storage.endpoint, credentials);
  dropKeys = () => {
    s3.destroy();
    for (const id of ['creds', 'files', 'bucket', 'prefix', 'probe-result']) el(id).replaceChildren();
    el('app').hidden = true;
  };
  el('bucket').textContent = bucket;
  el('prefix').textContent = prefix;
  el('app').hidden = location.hash === CONSOLE_HASH;

  const refreshList = async () => {
    const objects = await listFiles(s3, bucket, prefix);
    el('files').replaceChildren(
      ...objects.map((o) => {
        const key = o.Key ?? '';
        const name = key.startsWith(prefix) ? key.slice(prefix.length) : key;
        const tr = document.createElement('tr');
        tr.dataset.key = key;
        tr.dataset.name = name;
        const modified = o.LastModified?.toISOString().replace(/T(\d\d:\d\d:\d\d)\.\d+Z$/, ' $1Z') ?? '';
        for (const text of [name, fmtBytes(o.Size ?? 0), modified]) {
          const td = document.createElement('td');
          td.textContent = text;
          tr.append(td);
        }
        const btn = document.createElement('button');
        btn.textContent = 'Download';
        btn.onclick = () =>
          run(`Downloading ${name}…`, async () => {
            const blob = await downloadFile(s3, bucket, key);
            saveBlob(blob, name.split('/').pop() || 'download');
            return `Downloaded ${name} (${fmtBytes(blob.size)}).`;
          });
        const share = document.createElement('button');
        share.textContent = 'Share link';
        share.onclick = () =>
          run(`Signing a link to ${name}…`, async () => {
            // The key is relative to the caller's storage: stsvend puts it under their prefix.
            const link = await shareLink(credentials, name);
            const out = el<HTMLInputElement>('share-url');
            out.value = link.url;
            out.hidden = false;
            // The clipboard needs a secure context and permission; the field shows it anyway.
            const copied = await navigator.clipboard?.writeText(link.url).then(
              () => true,
              () => false,
            );
            return `Share link for ${name}, valid until ${link.expiresAt.toISOString()}${copied ? ' (copied)' : ''}.`;
          });
        const td = document.createElement('td');
        td.append(btn, ' ', share);
        tr.append(td);
        return tr;
      }),
    );
    return objects.length;
  };

  // One action at a time; its outcome (or S3 error code) goes to the status line.
  const run = async (busy: string, action: () => Promise<string>) => {
    status(busy);
    try {
      status(await action(), 'ready');
    } catch (e) {
      status(`Failed: ${errorCode(e)}`, 'error');
    }
  };

  el('refresh').onclick = () => run('Listing…', async () => `${await refreshList()} file(s).`);

  el<HTMLFormElement>('upload-form').onsubmit = (ev) => {
    ev.preventDefault();
    const files = [...(el<HTMLInputElement>('file').files ?? [])];
    if (!files.length) return;
    const progress = el<HTMLProgressElement>('progress');
    void run('Uploading…', async () => {
      const done: string[] = [];
      progress.hidden = false;
      for (const f of files) {
        const r = await uploadFile(s3, bucket, prefix, f, (loaded, total) => {
          progress.value = total ? loaded / total : 0;
          status(`Uploading ${f.name}: ${fmtBytes(loaded)} of ${fmtBytes(total)}`);
        });
        const how = r.multipart ? `multipart, ${Math.ceil(r.size / PART_SIZE)} parts` : 'single PUT';
        done.push(`${f.name} (${fmtBytes(r.size)}, ${how})`);
      }
      progress.hidden = true;
      el<HTMLInputElement>('file').value = '';
      await refreshList();
      return `Uploaded ${done.join(', ')}.`;
    });
  };

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

  const place = prefix ? `s3://${bucket}/${prefix}` : 'your bucket';
  await run('Listing…', async () => `Logged in; ${await refreshList()} file(s) in ${place}.`);
}

main().catch((e) => {
  console.error(e);
  status(`Error: ${e instanceof Error ? e.message : String(e)}`, 'error');
});
