// Signing-key storage for the local Auth0 stand-in.
//
// The private JWKS lives at ${AUTH0_STATE_DIR:-<repo>/.run/auth0}/jwks.json (mode 0600).
// keys[0] is the signing key; every key in the file is published at the JWKS endpoint
// (so tokens signed by a rotated-out key keep verifying until the key is removed).
// kid = RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key: stable across restarts.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const stateDir = path.resolve(process.env.AUTH0_STATE_DIR || path.join(repoRoot, '.run', 'auth0'));
export const jwksPath = path.join(stateDir, 'jwks.json');

export function thumbprint(jwk) {
  // RFC 7638: required members only, lexicographic order, no whitespace.
  const canonical = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  return crypto.createHash('sha256').update(canonical).digest('base64url');
}

export function generateKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    kid: thumbprint(jwk), use: 'sig', alg: 'RS256', ...jwk,
  };
}

function writeJwks(jwks) {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const tmp = `${jwksPath}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, jwksPath);
}

export function readJwks() {
  const jwks = JSON.parse(fs.readFileSync(jwksPath, 'utf8'));
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new Error(`${jwksPath}: no keys`);
  }
  for (const k of jwks.keys) {
    if (k.kty !== 'RSA' || !k.d) throw new Error(`${jwksPath}: every key must be a private RSA JWK`);
    k.kid = thumbprint(k);
    k.use = 'sig';
    k.alg = 'RS256';
  }
  return jwks;
}

// Load the keys, creating the file with one fresh key on first start.
export function loadOrCreateJwks() {
  if (!fs.existsSync(jwksPath)) {
    writeJwks({ keys: [generateKey()] });
  } else {
    try { fs.chmodSync(jwksPath, 0o600); } catch { /* not ours to fix */ }
  }
  return readJwks();
}

// Add a new key and make it the signing key; older keys stay published.
export function rotate({ keep } = {}) {
  const current = fs.existsSync(jwksPath) ? readJwks().keys : [];
  let keys = [generateKey(), ...current];
  if (keep && keep > 0) keys = keys.slice(0, keep);
  writeJwks({ keys });
  return keys;
}
