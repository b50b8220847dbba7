#!/usr/bin/env node
// Serves the built app (dist/) and its runtime configuration on 127.0.0.1. No dependencies.
//
//   STSVEND_WEB_PORT      (5173)                      listen on 127.0.0.1:PORT
//   STSVEND_WEB_API       (http://127.0.0.1:8080)     stsvend base URL
//   STSVEND_WEB_ISSUER    (http://127.0.0.1:4400/)    OIDC issuer (Auth0 tenant URL)
//   STSVEND_WEB_CLIENT_ID (stsvend-web)               SPA client id
//   STSVEND_WEB_AUDIENCE  (https://stsvend.local/api) Auth0 API identifier
//   STSVEND_WEB_ADMIN_PERMISSION (admin:users)        stsvend's admin.permission: the console's
//   STSVEND_WEB_EXIT_WITH_PARENT=1                    exit when the parent process is gone (tests)
//
// GET /config.json answers from these variables, so one build serves any stack: the demo
// (scripts/stack.sh) and the browser test (random stsvend port) differ only here.
// Paths without a file extension (/callback) get index.html, like any single-page app host.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dist');
const PORT = Number.parseInt(process.env.STSVEND_WEB_PORT || '5173', 10);
const HOST = '127.0.0.1';
const CONFIG = JSON.stringify({
  issuer: process.env.STSVEND_WEB_ISSUER || 'http://127.0.0.1:4400/',
  clientId: process.env.STSVEND_WEB_CLIENT_ID || 'stsvend-web',
  audience: process.env.STSVEND_WEB_AUDIENCE || 'https://stsvend.local/api',
  api: process.env.STSVEND_WEB_API || 'http://127.0.0.1:8080',
  adminPermission: process.env.STSVEND_WEB_ADMIN_PERMISSION || 'admin:users',
});
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

async function file(urlPath) {
  const rel = path.normalize(decodeURIComponent(urlPath)).replace(/^(\.\.[/\\])+/, '');
  const full = path.join(DIST, rel);
  if (!full.startsWith(DIST + path.sep)) return null;
  try {
    const st = await stat(full);
    return st.isFile() ? { full, size: st.size } : null;
  } catch {
    return null;
  }
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${HOST}`);
  const log = (status) => console.log(new Date().toISOString(), req.method, url.pathname, status);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    return log(405);
  }
  if (url.pathname === '/config.json') {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(CONFIG);
    return log(200);
  }
  const wanted = url.pathname === '/' ? '/index.html' : url.pathname;
  let found = await file(wanted);
  if (!found && !path.extname(wanted)) found = await file('/index.html');
  if (!found) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    return log(404);
  }
  const ext = path.extname(found.full);
  res.writeHead(200, {
    'Content-Type': TYPES[ext] || 'application/octet-stream',
    'Content-Length': found.size,
    // Hashed asset names may be cached for good; index.html must not be.
    'Cache-Control': found.full.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(found.full).pipe(res);
  return log(200);
});
server.on('error', (err) => {
  console.error(`cannot listen on ${HOST}:${PORT}: ${err.code || err.message}`);
  process.exit(1);
});
server.listen(PORT, HOST, () => console.log(`stsvend-web on http://${HOST}:${PORT}/ config ${CONFIG}`));
// A test that starts this server may be killed before it can stop it: then go too.
if (process.env.STSVEND_WEB_EXIT_WITH_PARENT === '1') {
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && process.exit(0), 1000).unref();
}
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
