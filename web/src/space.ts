// One files section of the page, bound to one storage space: "My files" (the user's own) or
// "Team files" (their organisation's). Both are a bucket and a key prefix reached with the
// same S3 client, so the section lists with the prefix, uploads `prefix + file name`, shows
// names without it, downloads by full key and gets share links from `share`.
//
// Element ids are the section's `ids` prefix ("" for My files, "team-" for Team files) followed
// by: files (tbody), upload-form (with its file input), progress, refresh, share-url.
import type { S3Client } from '@aws-sdk/client-s3';

import { downloadFile, listFiles, PART_SIZE, uploadFile } from './files';
import { el, fmtBytes, saveBlob } from './page';

export interface SpaceOptions {
  ids: string;
  s3: S3Client;
  bucket: string;
  prefix: string;
  /** Whether the upload form is offered (a read-only team member gets none). */
  canUpload: boolean;
  /** Added to status lines: "" for My files, " to the team" for Team files. */
  where: string;
  /** What the listing counts: "file(s)" or "team file(s)". */
  noun: string;
  /** A link to `key` (`name` is it without the prefix) that opens without keys. */
  share: (key: string, name: string) => Promise<{ url: string; expiresAt: Date }>;
  /** Runs one action, its outcome (or error) on the status line. */
  run: (busy: string, action: () => Promise<string>) => Promise<void>;
  status: (text: string) => void;
}

export interface Space {
  /** Lists the space again; the number of files. */
  refresh(): Promise<number>;
}

export function mountSpace(o: SpaceOptions): Space {
  const id = (name: string) => `${o.ids}${name}`;

  const row = (key: string, size: number, modified: string) => {
    const name = key.startsWith(o.prefix) ? key.slice(o.prefix.length) : key;
    const tr = document.createElement('tr');
    tr.dataset.key = key;
    tr.dataset.name = name;
    for (const text of [name, fmtBytes(size), modified]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    const btn = document.createElement('button');
    btn.textContent = 'Download';
    btn.onclick = () =>
      o.run(`Downloading ${name}…`, async () => {
        const blob = await downloadFile(o.s3, o.bucket, key);
        saveBlob(blob, name.split('/').pop() || 'download');
        return `Downloaded ${name} (${fmtBytes(blob.size)}).`;
      });
    const share = document.createElement('button');
    share.textContent = 'Share link';
    share.onclick = () =>
      o.run(`Signing a link to ${name}…`, async () => {
        const link = await o.share(key, name);
        const out = el<HTMLInputElement>(id('share-url'));
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
  };

  const refresh = async () => {
    const objects = await listFiles(o.s3, o.bucket, o.prefix);
    el(id('files')).replaceChildren(
      ...objects.map((obj) =>
        row(
          obj.Key ?? '',
          obj.Size ?? 0,
          obj.LastModified?.toISOString().replace(/T(\d\d:\d\d:\d\d)\.\d+Z$/, ' $1Z') ?? '',
        ),
      ),
    );
    return objects.length;
  };

  el(id('refresh')).onclick = () => o.run('Listing…', async () => `${await refresh()} ${o.noun}.`);

  const form = el<HTMLFormElement>(id('upload-form'));
  form.hidden = !o.canUpload;
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const input = form.querySelector<HTMLInputElement>('input[type=file]');
    const files = [...(input?.files ?? [])];
    if (!input || !files.length) return;
    const progress = el<HTMLProgressElement>(id('progress'));
    void o.run('Uploading…', async () => {
      const done: string[] = [];
      progress.hidden = false;
      for (const f of files) {
        const r = await uploadFile(o.s3, o.bucket, o.prefix, f, (loaded, total) => {
          progress.value = total ? loaded / total : 0;
          o.status(`Uploading ${f.name}${o.where}: ${fmtBytes(loaded)} of ${fmtBytes(total)}`);
        });
        const how = r.multipart ? `multipart, ${Math.ceil(r.size / PART_SIZE)} parts` : 'single PUT';
        done.push(`${f.name} (${fmtBytes(r.size)}, ${how})`);
      }
      progress.hidden = true;
      input.value = '';
      await refresh();
      return `Uploaded ${done.join(', ')}${o.where}.`;
    });
  };
  return { refresh };
}
