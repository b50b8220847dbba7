import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { fromStsvend, StsvendError } from '../dist/index.js';
import { error, JWT, stub, vend } from './stub.mjs';

const HOUR = 3600_000;
const servers = [];
async function started(replies) {
  const s = await stub(replies);
  servers.push(s);
  return s;
}
after(() => Promise.all(servers.map((s) => s.close())));

test('the SDK gets the vended keys with their expiration, asked for with the bearer token', async () => {
  const s = await started([vend('ASIAONE', HOUR)]);
  const credentials = fromStsvend({ url: `${s.url}/`, token: `Bearer ${JWT}`, access: 'read-only' });
  const id = await credentials();
  assert.equal(id.accessKeyId, 'ASIAONE');
  assert.equal(id.secretAccessKey, 'secret-of-ASIAONE');
  assert.equal(id.sessionToken, 'session-of-ASIAONE');
  assert.ok(id.expiration instanceof Date);
  assert.ok(Math.abs(id.expiration.getTime() - (Date.now() + HOUR)) < 5000, id.expiration.toISOString());
  assert.deepEqual(s.seen, [
    { method: 'POST', path: '/v1/credentials', authorization: `Bearer ${JWT}`, contentType: 'application/json', body: '{"access":"read-only"}' },
  ]);
});

test('concurrent calls share one request', async () => {
  const s = await started([vend('ASIASHARED', HOUR)]);
  const credentials = fromStsvend({ url: s.url, token: JWT });
  const ids = await Promise.all([credentials(), credentials(), credentials.storage(), credentials()]);
  assert.deepEqual(ids.map((i) => i.accessKeyId ?? i.bucket), ['ASIASHARED', 'ASIASHARED', 'stsvend-stub', 'ASIASHARED']);
  assert.equal(s.seen.length, 1);
  assert.equal(s.seen[0].body, '', 'no access asked: no body');
});

test('keys with more than five minutes left are reused; nearer their expiration, or forced, they are vended again', async () => {
  const s = await started([vend('ASIAFRESH', HOUR), vend('ASIASHORT', 4 * 60_000), vend('ASIANEXT', HOUR), vend('ASIAFORCED', HOUR)]);
  const credentials = fromStsvend({ url: s.url, token: JWT });
  assert.equal((await credentials()).accessKeyId, 'ASIAFRESH');
  assert.equal((await credentials()).accessKeyId, 'ASIAFRESH');
  assert.equal(s.seen.length, 1);
  assert.equal((await credentials({ forceRefresh: true })).accessKeyId, 'ASIASHORT');
  assert.equal((await credentials()).accessKeyId, 'ASIANEXT', '4 minutes left: the SDK is refreshing, so vend');
  assert.equal((await credentials({ forceRefresh: true })).accessKeyId, 'ASIAFORCED');
  assert.equal(s.seen.length, 4);
});

test('the token function is asked before every vend, and onVend sees each vend without its secrets', async () => {
  const s = await started([vend('ASIAA', 60_000), vend('ASIAB', 60_000)]);
  let n = 0;
  const seen = [];
  const credentials = fromStsvend({ url: s.url, token: async () => `jwt-${++n}`, onVend: (v) => seen.push(v) });
  await credentials();
  await credentials();
  assert.deepEqual(s.seen.map((r) => r.authorization), ['Bearer jwt-1', 'Bearer jwt-2']);
  assert.deepEqual(seen.map((v) => v.accessKeyId), ['ASIAA', 'ASIAB']);
  assert.ok(seen[0].expiration instanceof Date);
  assert.equal(seen[0].storage.bucket, 'stsvend-stub');
  assert.ok(!JSON.stringify(seen).includes('secret-of') && !JSON.stringify(seen).includes('session-of'));
});

test('storage names bucket, prefix, region and endpoint, and the organisation fields only when sent', async () => {
  const s = await started([vend('ASIAA', HOUR), vend('ASIAB', HOUR, { OrgBucket: 'stsvend-team', OrgPrefix: 'orgs/o1/', Later: 1 })]);
  const plain = await fromStsvend({ url: s.url, token: JWT }).storage();
  assert.deepEqual(plain, { bucket: 'stsvend-stub', prefix: 'users/u1/', region: 'eu-west-1', access: 'read-write', endpoint: 'http://127.0.0.1:4566' });
  const team = await fromStsvend({ url: s.url, token: JWT }).storage();
  assert.equal(team.orgBucket, 'stsvend-team');
  assert.equal(team.orgPrefix, 'orgs/o1/');
  assert.ok(!('Later' in team) && !('later' in team));
});

test('429 is retried once Retry-After has passed', async () => {
  const s = await started([error(429, 'rate_limited', 1), vend('ASIAOK', HOUR)]);
  const credentials = fromStsvend({ url: s.url, token: JWT });
  const t0 = Date.now();
  assert.equal((await credentials()).accessKeyId, 'ASIAOK');
  assert.ok(Date.now() - t0 >= 1000, `${Date.now() - t0} ms`);
  assert.equal(s.seen.length, 2);
});

test('503 and 502 are retried with backoff, then thrown with the last code and Retry-After', async () => {
  const s = await started([error(503, 'service_unavailable'), error(502, 'bad_gateway'), error(503, 'jwks_unavailable', 0)]);
  const credentials = fromStsvend({ url: s.url, token: JWT });
  await assert.rejects(credentials(), (e) => {
    assert.ok(e instanceof StsvendError);
    assert.equal(e.status, 503);
    assert.equal(e.code, 'jwks_unavailable');
    assert.equal(e.retryAfter, 0);
    assert.equal(e.retryable, true);
    assert.equal(e.message, 'stsvend: 503 jwks_unavailable: stub says jwks_unavailable (retry after 0 s)');
    return true;
  });
  assert.equal(s.seen.length, 3, 'three attempts in all');
});

test('401, 403 and 400 are never retried, and the error never contains the token', async () => {
  for (const [status, code] of [[401, 'token_expired'], [403, 'insufficient_scope'], [400, 'unknown_access']]) {
    const s = await started([error(status, code, 1), vend('ASIANEVER', HOUR)]);
    const t0 = Date.now();
    const e = await fromStsvend({ url: s.url, token: JWT }).storage().catch((x) => x);
    assert.ok(e instanceof StsvendError, String(e));
    assert.deepEqual([e.status, e.code, e.retryable], [status, code, false]);
    assert.equal(s.seen.length, 1, `${code}: asked once`);
    assert.ok(Date.now() - t0 < 1000, `${code}: no pause`);
    assert.ok(!`${e.message} ${e.stack}`.includes(JWT), `${code}: the token leaked`);
  }
});

test('a Retry-After beyond maxRetryDelayMs is thrown at once, carrying the wait', async () => {
  const s = await started([error(503, 'bucket_quota_exhausted', 300)]);
  const t0 = Date.now();
  const e = await fromStsvend({ url: s.url, token: JWT })().catch((x) => x);
  assert.equal(e.code, 'bucket_quota_exhausted');
  assert.equal(e.retryAfter, 300);
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(s.seen.length, 1);
});

test('no answer at all is retried, then thrown as network_error', async () => {
  const s = await stub([]);
  const url = s.url;
  await s.close(); // nothing listens there any more
  const e = await fromStsvend({ url, token: JWT, maxAttempts: 2 })().catch((x) => x);
  assert.ok(e instanceof StsvendError);
  assert.deepEqual([e.status, e.code], [0, 'network_error']);
  assert.ok(e.cause, 'the fetch failure is kept as the cause');
});

test('presign and presignPost ask in stsvend\'s field names and answer with dates', async () => {
  const at = '2026-11-30T07:04:30Z';
  const s = await started([
    { status: 200, body: { url: 'http://127.0.0.1:4566/b/users/u1/a.txt?X-Amz-Signature=x', method: 'PUT', expires_at: at, headers: {} } },
    { status: 200, body: { url: 'http://127.0.0.1:4566/b/', fields: { key: 'users/u1/in/${filename}', policy: 'p' }, expires_at: at } },
  ]);
  const credentials = fromStsvend({ url: s.url, token: JWT, access: 'read-write' });
  const put = await credentials.presign({ method: 'PUT', key: 'a.txt', expiresIn: 300 });
  assert.equal(put.method, 'PUT');
  assert.equal(put.expiresAt.toISOString(), '2026-11-30T07:04:30.000Z');
  assert.deepEqual(put.headers, {});
  const form = await credentials.presignPost({ keyPrefix: 'in/', maxBytes: 1024, contentType: 'image/png' });
  assert.equal(form.fields.key, 'users/u1/in/${filename}');
  assert.equal(form.expiresAt.getTime(), Date.parse(at));
  assert.deepEqual(s.seen.map((r) => [r.path, JSON.parse(r.body)]), [
    ['/v1/presign', { method: 'PUT', key: 'a.txt', expires_in: 300, access: 'read-write' }],
    ['/v1/presign/post', { key_prefix: 'in/', max_bytes: 1024, content_type: 'image/png', access: 'read-write' }],
  ]);
  assert.ok(s.seen.every((r) => r.authorization === `Bearer ${JWT}`));
});

test('plain http is refused unless the host is loopback or it is allowed', () => {
  for (const url of ['https://stsvend.example.com', 'http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080']) {
    assert.equal(typeof fromStsvend({ url, token: JWT }), 'function', url);
  }
  for (const url of ['http://stsvend.example.com', 'http://10.0.0.5:8080', 'ftp://x', 'not a url']) {
    assert.throws(() => fromStsvend({ url, token: JWT }), (e) => e instanceof StsvendError && e.code === 'invalid_url', url);
  }
  assert.equal(typeof fromStsvend({ url: 'http://stsvend:8080', token: JWT, allowInsecureHttp: true }), 'function');
});
