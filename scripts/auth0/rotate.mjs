#!/usr/bin/env node
// Add a new RSA signing key to the stand-in's private JWKS and make it the signing key.
// Older keys stay published in the JWKS (tokens they signed still verify).
//   node scripts/auth0/rotate.mjs            # prepend a new key
//   node scripts/auth0/rotate.mjs --keep 2   # ...and keep only the 2 newest keys
// The running server only reads the file at start: restart it afterwards
// (scripts/auth0.sh stop && scripts/auth0.sh start). Note the in-memory store
// (refresh tokens, device codes) does not survive a restart.
import { rotate, jwksPath } from './keys.mjs';

const i = process.argv.indexOf('--keep');
const keep = i > 0 ? Number.parseInt(process.argv[i + 1], 10) : undefined;
if (i > 0 && !(keep > 0)) {
  console.error('usage: rotate.mjs [--keep N]');
  process.exit(2);
}
const keys = rotate({ keep });
console.log(`${jwksPath}: signing kid ${keys[0].kid}; published: ${keys.map((k) => k.kid).join(' ')}`);
