import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test('npm pack lists the manifest, the README, the built module with its types, and the sources', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  const files = JSON.parse(out)[0].files.map((f) => f.path).sort();
  const modules = readdirSync(new URL('../src', import.meta.url)).map((f) => f.replace(/\.ts$/, ''));
  const expected = [
    'README.md',
    'package.json',
    ...modules.flatMap((m) => [`dist/${m}.js`, `dist/${m}.d.ts`, `dist/${m}.d.ts.map`, `src/${m}.ts`]),
  ].sort();
  assert.deepEqual(files, expected);
});

test('the package entry point exports the provider and the error class, and nothing internal', async () => {
  const mod = await import('@stsvend/credentials');
  assert.deepEqual(Object.keys(mod).sort(), ['StsvendError', 'fromStsvend']);
});
