#!/usr/bin/env node
// End-to-end checks against a RUNNING stand-in (scripts/auth0.sh start; scripts/auth0.sh selftest).
// Uses `jose` (a dependency of oidc-provider) to verify signatures against the published JWKS.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';

const PORT = process.env.AUTH0_PORT || '4400';
const ISSUER = `http://127.0.0.1:${PORT}/`;
const API = process.env.AUTH0_AUDIENCE || 'https://stsvend.local/api';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${name}: ${err.stack || err}`);
  }
}

async function form(url, params, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: await res.json() };
}

const disco = await (await fetch(`${ISSUER}.well-known/openid-configuration`)).json();
const JWKS = createRemoteJWKSet(new URL(disco.jwks_uri));

async function verifyAt(token) {
  const { payload, protectedHeader } = await jwtVerify(token, JWKS, {
    issuer: ISSUER, audience: API, algorithms: ['RS256'], typ: 'JWT',
  });
  return { payload, header: protectedHeader };
}

const cc = (params, headers) => form(disco.token_endpoint, { grant_type: 'client_credentials', audience: API, ...params }, headers);

await check('discovery', () => {
  assert.equal(disco.issuer, ISSUER);
  for (const k of ['jwks_uri', 'token_endpoint', 'device_authorization_endpoint', 'authorization_endpoint', 'userinfo_endpoint']) {
    assert.ok(disco[k]?.startsWith(ISSUER), k);
    assert.ok(!new URL(disco[k]).pathname.startsWith('//'), `${k} has a double slash`);
  }
});

await check('jwks: public RSA keys, kid present, no private parts', async () => {
  const jwks = await (await fetch(disco.jwks_uri)).json();
  assert.ok(jwks.keys.length >= 1);
  for (const k of jwks.keys) {
    assert.equal(k.kty, 'RSA');
    assert.ok(k.kid);
    assert.equal(k.d, undefined);
  }
});

await check('m2m token (client_secret_post) is Auth0 M2M-shaped', async () => {
  const r = await cc({ client_id: 'stsvend-m2m', client_secret: 'm2m-secret', scope: 'read:files write:files' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const { payload: p, header: h } = await verifyAt(r.body.access_token);
  assert.equal(h.typ, 'JWT');
  assert.equal(p.sub, 'stsvend-m2m@clients');
  assert.equal(p.aud, API);
  assert.equal(p.gty, 'client-credentials');
  assert.equal(p.azp, 'stsvend-m2m');
  assert.equal(p.scope, 'read:files write:files');
  assert.deepEqual(p.permissions, ['read:files', 'write:files']);
});

await check('m2m token (HTTP Basic, no scope => all granted scopes)', async () => {
  const basic = Buffer.from('stsvend-m2m:m2m-secret').toString('base64');
  const r = await cc({}, { authorization: `Basic ${basic}` });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const { payload: p } = await verifyAt(r.body.access_token);
  assert.deepEqual(p.permissions, ['read:files', 'write:files', 'admin:users']);
});

await check('test client: user-shaped token, aud array with openid', async () => {
  const r = await cc({
    client_id: 'stsvend-test', client_secret: 'test-secret', test_sub: 'auth0|alice', scope: 'openid profile read:files write:files',
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const { payload: p } = await verifyAt(r.body.access_token);
  assert.equal(p.sub, 'auth0|alice');
  assert.deepEqual(p.aud, [API, `${ISSUER}userinfo`]);
  assert.equal(p.gty, undefined);
  assert.equal(p.azp, 'stsvend-test');
  assert.equal(p.scope, 'openid profile read:files write:files');
  assert.deepEqual(p.permissions, ['read:files', 'write:files']);
});

await check('test client: test_permissions + test_expires_in, string aud without openid', async () => {
  const r = await cc({
    client_id: 'stsvend-test', client_secret: 'test-secret', test_sub: 'auth0|bob', scope: 'read:files', test_permissions: 'read:files admin:users', test_expires_in: '5',
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const { payload: p } = await verifyAt(r.body.access_token);
  assert.equal(p.aud, API);
  assert.deepEqual(p.permissions, ['read:files', 'admin:users']);
  assert.equal(p.exp - p.iat, 5);
  assert.equal(r.body.expires_in, 5);
});

await check('test client: test_org_id becomes org_id (Auth0 Organizations); none without it', async () => {
  const r = await cc({
    client_id: 'stsvend-test', client_secret: 'test-secret', test_sub: 'auth0|olga', scope: 'read:files', test_org_id: 'org_acme',
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal((await verifyAt(r.body.access_token)).payload.org_id, 'org_acme');
  const plain = await cc({ client_id: 'stsvend-test', client_secret: 'test-secret', test_sub: 'auth0|olga', scope: 'read:files' });
  assert.equal((await verifyAt(plain.body.access_token)).payload.org_id, undefined);
});

await check('test client: test_claims adds custom claims (org_id, namespaced ones), never reserved ones', async () => {
  const claims = { org_id: 'org_abc', 'https://example.com/tier': 'pro' };
  let r = await cc({
    client_id: 'stsvend-test', client_secret: 'test-secret', test_sub: 'auth0|carol', scope: 'read:files', test_claims: JSON.stringify(claims),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const { payload: p } = await verifyAt(r.body.access_token);
  assert.equal(p.org_id, 'org_abc');
  assert.equal(p['https://example.com/tier'], 'pro');
  assert.equal(p.sub, 'auth0|carol');
  for (const bad of ['{"sub":"auth0|mallory"}', '[1]', 'not json']) {
    r = await cc({
      client_id: 'stsvend-test', client_secret: 'test-secret', test_sub: 'auth0|carol', test_claims: bad,
    });
    assert.equal(r.status, 400, bad);
    assert.equal(r.body.error, 'invalid_request');
  }
});

await check('test client: test_sub required, bad secret rejected', async () => {
  let r = await cc({ client_id: 'stsvend-test', client_secret: 'test-secret' });
  assert.equal(r.status, 400);
  assert.equal(r.body.error, 'invalid_request');
  r = await cc({ client_id: 'stsvend-test', client_secret: 'wrong', test_sub: 'x' });
  assert.equal(r.status, 401);
  assert.equal(r.body.error, 'invalid_client');
});

await check('unknown audience rejected', async () => {
  const r = await cc({ client_id: 'stsvend-m2m', client_secret: 'm2m-secret', audience: 'https://other.example/' });
  assert.equal(r.body.error, 'invalid_target');
});

await check('device flow (headless) + refresh token', async () => {
  const da = await form(disco.device_authorization_endpoint, {
    client_id: 'stsvend-cli', scope: 'openid profile offline_access read:files write:files', audience: API,
  });
  assert.equal(da.status, 200, JSON.stringify(da.body));
  const { device_code: deviceCode, user_code: userCode } = da.body;
  assert.ok(da.body.verification_uri_complete.includes(userCode));
  const poll = () => form(disco.token_endpoint, { client_id: 'stsvend-cli', grant_type: DEVICE_GRANT, device_code: deviceCode });
  let r = await poll();
  assert.equal(r.body.error, 'authorization_pending');
  const ap = await fetch(`${ISSUER}test/approve-device`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_code: userCode, sub: 'auth0|carol', permissions: ['read:files'], org_id: 'org_carolco' }),
  });
  assert.equal(ap.status, 200, await ap.text());
  r = await poll();
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.body.refresh_token && r.body.id_token);
  let { payload: p } = await verifyAt(r.body.access_token);
  assert.equal(p.sub, 'auth0|carol');
  assert.equal(p.azp, 'stsvend-cli');
  assert.deepEqual(p.aud, [API, `${ISSUER}userinfo`]);
  assert.deepEqual(p.permissions, ['read:files']);
  assert.equal(p.org_id, 'org_carolco');
  const rt = await form(disco.token_endpoint, { client_id: 'stsvend-cli', grant_type: 'refresh_token', refresh_token: r.body.refresh_token });
  assert.equal(rt.status, 200, JSON.stringify(rt.body));
  assert.ok(rt.body.refresh_token && rt.body.refresh_token !== r.body.refresh_token, 'rotated');
  ({ payload: p } = await verifyAt(rt.body.access_token));
  assert.equal(p.sub, 'auth0|carol');
  assert.equal(p.scope, 'openid profile offline_access read:files write:files');
  assert.equal(p.org_id, 'org_carolco', 'refreshed tokens keep the organisation');
  // oidc-provider: re-using a consumed device code revokes the whole grant (refresh tokens too)
  const again = await poll();
  assert.equal(again.body.error, 'invalid_grant');
  const rt2 = await form(disco.token_endpoint, { client_id: 'stsvend-cli', grant_type: 'refresh_token', refresh_token: rt.body.refresh_token });
  assert.equal(rt2.body.error, 'invalid_grant');
});

await check('device flow: denied code => access_denied', async () => {
  const da = await form(disco.device_authorization_endpoint, { client_id: 'stsvend-cli', scope: 'openid read:files' });
  await form(`${ISSUER}test/approve-device`, { user_code: da.body.user_code, deny: 'true' });
  const r = await form(disco.token_endpoint, { client_id: 'stsvend-cli', grant_type: DEVICE_GRANT, device_code: da.body.device_code });
  assert.equal(r.body.error, 'access_denied');
});

await check('web client: authorization code + PKCE via login_hint (no browser)', async () => {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  const redirectUri = 'http://127.0.0.1:5173/callback';
  const url = new URL(disco.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: 'stsvend-web', response_type: 'code', redirect_uri: redirectUri, scope: 'openid profile offline_access read:files',
    audience: API, code_challenge: challenge, code_challenge_method: 'S256', state: 'st', login_hint: 'auth0|dave',
  });
  const jar = new Map();
  let next = url.href;
  let location;
  for (let i = 0; i < 10; i += 1) {
    const res = await fetch(next, { redirect: 'manual', headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(';');
      const [k, v] = kv.split('=');
      jar.set(k.trim(), v);
    }
    location = res.headers.get('location');
    assert.ok(location, `no redirect from ${next} (${res.status}: ${await res.text()})`);
    next = new URL(location, next).href;
    if (next.startsWith(redirectUri)) break;
  }
  const cb = new URL(next);
  assert.equal(cb.searchParams.get('state'), 'st');
  assert.equal(cb.searchParams.get('iss'), ISSUER);
  const code = cb.searchParams.get('code');
  assert.ok(code, next);
  const r = await form(disco.token_endpoint, {
    client_id: 'stsvend-web', grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier,
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const { payload: p } = await verifyAt(r.body.access_token);
  assert.equal(p.sub, 'auth0|dave');
  assert.equal(p.azp, 'stsvend-web');
  assert.deepEqual(p.permissions, ['read:files']);
  assert.ok(r.body.refresh_token);
  assert.equal(decodeProtectedHeader(r.body.id_token).alg, 'RS256');
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
