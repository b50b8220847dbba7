// A stub stsvend for the tests: answers each request with the next scripted reply and records
// what it was asked.
import { createServer } from 'node:http';

export const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl';

/** A vend whose keys expire `ttlMs` from now; `extra` adds or overrides fields. */
export function vend(id, ttlMs, extra = {}) {
  return {
    status: 200,
    body: {
      Version: 1, AccessKeyId: id, SecretAccessKey: `secret-of-${id}`, SessionToken: `session-of-${id}`,
      Expiration: new Date(Date.now() + ttlMs).toISOString().replace(/\.\d+Z$/, 'Z'),
      Bucket: 'stsvend-stub', Prefix: 'users/u1/', Region: 'eu-west-1', Access: 'read-write',
      Endpoint: 'http://127.0.0.1:4566', ...extra,
    },
  };
}

/** stsvend's error envelope, with Retry-After when given. */
export function error(status, code, retryAfter) {
  return {
    status,
    headers: retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) },
    body: { error: { code, message: `stub says ${code}` } },
  };
}

/** Serves `replies` in order (a reply may be a function of the request); then 500s. */
export async function stub(replies) {
  const seen = [];
  const queue = [...replies];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method, path: req.url, authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
      const reply = queue.shift() ?? error(500, 'stub_exhausted');
      const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      res.writeHead(reply.status, { 'Content-Type': 'application/json', ...(reply.headers ?? {}) });
      res.end(text);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
