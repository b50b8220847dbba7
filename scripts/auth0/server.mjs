#!/usr/bin/env node
// Local Auth0 stand-in for stsvend tests, built on `oidc-provider`.
// TEST USE ONLY: static clients with well-known secrets, an in-memory store, a
// test-only impersonation client and an unauthenticated device-approval endpoint.
//
//   AUTH0_PORT      (4400)                      listen on 127.0.0.1:PORT
//   AUTH0_AUDIENCE  (https://stsvend.local/api) the API identifier (token `aud`)
//   AUTH0_STATE_DIR (<repo>/.run/auth0)         holds jwks.json (private signing keys)
//   AUTH0_DEVICE_INTERVAL (1)                   `interval` returned by /oauth/device/code
//   AUTH0_WEB_ORIGINS (http://127.0.0.1:5173 http://localhost:5173)
//                                               origins of the stsvend-web SPA (space separated):
//                                               ORIGIN/callback may receive codes, ORIGIN/ logouts
//
// See README.md beside this file.

import * as http from 'node:http';
import * as querystring from 'node:querystring';
import Provider, { errors } from 'oidc-provider';

import { loadOrCreateJwks, jwksPath } from './keys.mjs';

const PORT = Number.parseInt(process.env.AUTH0_PORT || '4400', 10);
const HOST = '127.0.0.1';
const ISSUER = `http://${HOST}:${PORT}/`; // trailing slash, like https://tenant.auth0.com/
const API = process.env.AUTH0_AUDIENCE || 'https://stsvend.local/api';
const USERINFO_AUD = `${ISSUER}userinfo`;
const DEVICE_INTERVAL = Number.parseInt(process.env.AUTH0_DEVICE_INTERVAL || '1', 10);
const API_TTL = 86400; // Auth0's default API token lifetime
// Auth0 "Allowed Callback URLs" of the SPA. The browser test serves the app on a port of its own.
const WEB_ORIGINS = (process.env.AUTH0_WEB_ORIGINS || 'http://127.0.0.1:5173 http://localhost:5173')
  .split(/[\s,]+/).filter(Boolean).map((o) => o.replace(/\/+$/, ''));

const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'];
const API_SCOPES = ['read:files', 'write:files', 'admin:users'];
// Default `permissions` for user-shaped tokens when none were given explicitly.
const DEFAULT_USER_PERMISSIONS = ['read:files', 'write:files'];
// The user scripts/demo.sh logs in as; the login page offers it first.
const DEMO_SUB = 'auth0|demo-alice';

const TEST_CLIENT = 'stsvend-test';
const M2M_CLIENT = 'stsvend-m2m';

const clients = [
  {
    client_id: M2M_CLIENT,
    client_secret: 'm2m-secret',
    client_name: 'stsvend M2M',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post', // HTTP Basic also accepted (see below)
    'x-allowed-scopes': API_SCOPES,
  },
  {
    client_id: TEST_CLIENT,
    client_secret: 'test-secret',
    client_name: 'stsvend TEST impersonation client',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post',
    'x-allowed-scopes': ['openid', 'profile', 'offline_access', ...API_SCOPES],
  },
  {
    client_id: 'stsvend-cli',
    client_name: 'stsvend CLI',
    application_type: 'native',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'none',
    'x-allowed-scopes': [...OIDC_SCOPES, ...API_SCOPES],
  },
  {
    client_id: 'stsvend-web',
    client_name: 'stsvend Web',
    application_type: 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: WEB_ORIGINS.map((o) => `${o}/callback`),
    post_logout_redirect_uris: WEB_ORIGINS.map((o) => `${o}/`),
    token_endpoint_auth_method: 'none',
    'x-allowed-scopes': [...OIDC_SCOPES, ...API_SCOPES],
  },
];
// Scopes each client may obtain (Auth0 "client grants" / allowed scopes). oidc-provider's
// `scope` client metadata may only hold OIDC scopes, so it is derived from this list.
const clientScopes = new Map(clients.map((c) => [c.client_id, c['x-allowed-scopes']]));
for (const c of clients) {
  const oidc = c['x-allowed-scopes'].filter((s) => OIDC_SCOPES.includes(s));
  if (oidc.length) c.scope = oidc.join(' ');
  delete c['x-allowed-scopes'];
}

// permissions remembered per user (sub), set by /test/approve-device or the login form.
const accountPermissions = new Map();
// Auth0 Organizations: the organisation each user (sub) signed in to, put in their access tokens
// as `org_id` (set by the login form's organisation field or /test/approve-device's `org_id`).
const accountOrgs = new Map();
// Access-token lifetime (seconds) per user (sub), set by /test/approve-device or the login
// form (`expires_in`): tests that must see a client live through several token lifetimes.
const accountTokenTtl = new Map();
const positiveInt = (v) => /^[1-9][0-9]*$/.test(String(v));

// Claims the stand-in sets itself: `test_claims` may not name them.
const RESERVED_CLAIMS = ['iss', 'sub', 'aud', 'iat', 'exp', 'nbf', 'jti', 'scope', 'gty', 'azp', 'permissions'];
// `test_claims` (stsvend-test): a JSON object of extra claims, like the custom claims an Auth0
// Action adds (`org_id`, `https://example.com/tier`); null when absent or not such an object.
function extraClaims(raw) {
  if (raw === undefined) return {};
  try {
    const v = JSON.parse(String(raw));
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
    return Object.keys(v).some((k) => RESERVED_CLAIMS.includes(k)) ? null : v;
  } catch {
    return null;
  }
}

const split = (s) => (typeof s === 'string' ? s.split(/[\s,]+/).filter(Boolean) : []);
const listParam = (v) => (Array.isArray(v) ? v.map(String) : split(v));
const defaultPermissions = (scopes) => DEFAULT_USER_PERMISSIONS.filter((p) => scopes.includes(p));

function log(...args) {
  console.log(new Date().toISOString(), ...args);
}

// ---------------------------------------------------------------------------------------
// Access-token shaping: Auth0 style RS256 JWTs.
async function customizeJwt(ctx, token, jwt) {
  const p = jwt.payload;
  const clientId = p.client_id;
  const scopes = split(p.scope);
  const body = ctx?.oidc?.body || {};

  let sub = p.sub;
  let gty;
  let permissions;
  let org;
  let extra = {};
  if (token.kind === 'ClientCredentials' && clientId === TEST_CLIENT) {
    sub = String(body.test_sub); // presence checked in the pre-middleware
    extra = extraClaims(body.test_claims) || {}; // checked in the pre-middleware too
    permissions = body.test_permissions !== undefined
      ? split(body.test_permissions) : defaultPermissions(scopes);
    if (body.test_org_id) org = String(body.test_org_id);
  } else if (token.kind === 'ClientCredentials') {
    sub = `${clientId}@clients`;
    gty = 'client-credentials';
    permissions = scopes.filter((s) => API_SCOPES.includes(s));
  } else {
    permissions = accountPermissions.get(sub) ?? defaultPermissions(scopes);
    org = accountOrgs.get(sub);
  }

  const api = Array.isArray(p.aud) ? p.aud[0] : p.aud;
  jwt.header = { typ: 'JWT' }; // oidc-provider's default is `at+jwt`; kid is added by the provider
  jwt.payload = {
    ...extra,
    iss: ISSUER,
    sub,
    aud: scopes.includes('openid') ? [api, USERINFO_AUD] : api,
    iat: p.iat,
    exp: p.exp,
    jti: p.jti,
    ...(scopes.length ? { scope: scopes.join(' ') } : {}),
    ...(gty ? { gty } : {}),
    azp: clientId,
    permissions,
    ...(org ? { org_id: org } : {}),
  };
}

// Plain HTML pages (oidc-provider's defaults @import Google Fonts; keep everything loopback).
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// The same look as the web app (web/src/style.css), in a few lines.
const STYLE = `body{font:16px/1.5 system-ui,sans-serif;color:#1f2933;background:#f4f6f8;margin:0}
main{max-width:30em;margin:3em auto;padding:1.5em 2em;background:#fff;border:1px solid #d9dee3;border-radius:8px}
h1{font-size:1.4em;margin:0 0 .5em}label{display:block;font-weight:600;margin:1em 0 .25em}
small{display:block;color:#52606d;font-weight:normal}code{background:#eef1f4;padding:0 .25em;border-radius:3px}
input{box-sizing:border-box;width:100%;font:inherit;padding:.45em .6em;border:1px solid #b8c2cc;border-radius:6px}
button{font:inherit;font-weight:600;padding:.5em 1.2em;margin:1.2em .5em 0 0;border-radius:6px;cursor:pointer;
border:1px solid #1c64d1;background:#1c64d1;color:#fff}button+button{background:#fff;color:#1c64d1}`;
function page(ctx, title, body) {
  ctx.type = 'html';
  ctx.body = `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}
const pages = {
  async userCodeInputSource(ctx, form, out, err) {
    const msg = err ? `<p style="color:#b00">${esc(err.userCode || err.name === 'NoCodeError'
      ? 'The code you entered is incorrect. Try again.' : 'There was an error processing your request.')}</p>`
      : '<p>Enter the code displayed on your device</p>';
    page(ctx, 'Device sign-in', `${msg}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
  },
  async userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
    page(ctx, 'Confirm device', `<p><b>${esc(client.clientName || client.clientId)}</b> shows the code
<code>${esc(userCode)}</code></p>${form}<button autofocus type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>`);
  },
  async successSource(ctx) {
    page(ctx, 'Sign-in success', '<p>You can close this page and return to your device.</p>');
  },
  async logoutSource(ctx, form) {
    page(ctx, 'Sign out?', `${form}<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No</button>`);
  },
  async postLogoutSuccessSource(ctx) {
    page(ctx, 'Signed out', '<p>You are signed out.</p>');
  },
};

// ---------------------------------------------------------------------------------------
const configuration = {
  clients,
  jwks: loadOrCreateJwks(),
  cookies: { keys: ['stsvend-auth0-standin-not-a-secret'] },
  scopes: OIDC_SCOPES,
  claims: {
    openid: ['sub'],
    profile: ['name', 'nickname', 'updated_at'],
    email: ['email', 'email_verified'],
  },
  routes: {
    // Auth0's paths (discovery lists them; nothing should hardcode them).
    authorization: '/authorize',
    token: '/oauth/token',
    device_authorization: '/oauth/device/code',
    code_verification: '/activate',
    jwks: '/.well-known/jwks.json',
    userinfo: '/userinfo',
    revocation: '/oauth/revoke',
    end_session: '/oidc/logout',
    pushed_authorization_request: '/oauth/par',
  },
  extraParams: ['audience', 'test_permissions'],
  features: {
    devInteractions: { enabled: false }, // replaced by /interaction/:uid below
    clientCredentials: { enabled: true },
    deviceFlow: {
      enabled: true,
      charset: 'base-20',
      mask: '****-****',
      userCodeInputSource: pages.userCodeInputSource,
      userCodeConfirmSource: pages.userCodeConfirmSource,
      successSource: pages.successSource,
    },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: pages.logoutSource,
      postLogoutSuccessSource: pages.postLogoutSuccessSource,
    },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Auth0 `audience=` (request param) or the tenant "default audience".
      async defaultResource(ctx, client, oneOf) {
        if (oneOf) return oneOf;
        return ctx.oidc.params?.audience || ctx.oidc.body?.audience || API;
      },
      useGrantedResource: async () => true,
      async getResourceServerInfo(ctx, resourceIndicator, client) {
        if (resourceIndicator !== API) {
          throw new errors.InvalidTarget(`unknown audience (only ${API} is served here)`);
        }
        // Scopes a client may get for the API (Auth0 "client grants"); others are dropped.
        const allowed = clientScopes.get(client.clientId) || [];
        return {
          audience: API,
          scope: allowed.join(' '),
          accessTokenTTL: API_TTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  formats: { customizers: { jwt: customizeJwt } },
  ttl: {
    AccessToken: (ctx, token) => accountTokenTtl.get(token.accountId)
      ?? token.resourceServer?.accessTokenTTL ?? 3600,
    ClientCredentials(ctx, token, client) {
      const req = ctx?.oidc?.body?.test_expires_in;
      if (client?.clientId === TEST_CLIENT && req !== undefined) return Number.parseInt(req, 10);
      return token.resourceServer?.accessTokenTTL || 600;
    },
    AuthorizationCode: 60,
    DeviceCode: 600,
    IdToken: 36000,
    RefreshToken: 30 * 24 * 3600,
    Interaction: 3600,
    Session: 24 * 3600,
    Grant: 30 * 24 * 3600,
  },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, name: sub, nickname: sub.replace(/^.*\|/, ''), updated_at: 0 };
      },
    };
  },
  // First-party clients only: consent is implicit. Grant whatever was requested that the
  // client is allowed, so no consent prompt ever shows.
  async loadExistingGrant(ctx) {
    const {
      provider, client, session, params, resourceServers,
    } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    let grant = grantId ? await provider.Grant.find(grantId) : undefined;
    if (grant && grant.accountId !== session.accountId) grant = undefined;
    grant ||= new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    const requested = split(params.scope);
    const oidc = requested.filter((s) => OIDC_SCOPES.includes(s));
    if (oidc.length) grant.addOIDCScope(oidc.join(' '));
    for (const [id, rs] of Object.entries(resourceServers || {})) {
      const sc = requested.filter((s) => rs.scopes.has(s));
      if (sc.length) grant.addResourceScope(id, sc.join(' '));
    }
    await grant.save();
    return grant;
  },
  clientBasedCORS: () => true, // loopback test stand-in
  pkce: { required: (ctx, client) => client.clientAuthMethod === 'none' },
  rotateRefreshToken: true,
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const provider = new Provider(ISSUER, configuration);
provider.proxy = false;

// ---------------------------------------------------------------------------------------
// Pre-middlewares (provider.use runs them before oidc-provider's own routing).

async function readRaw(req) {
  const chunks = [];
  let n = 0;
  for await (const c of req) {
    n += c.length;
    if (n > 64 * 1024) throw new Error('request body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readParams(ctx) {
  const raw = await readRaw(ctx.req);
  if (ctx.is('application/json')) return raw ? JSON.parse(raw) : {};
  return querystring.parse(raw);
}

function oauthError(ctx, status, error, description) {
  ctx.status = status;
  ctx.type = 'json';
  ctx.body = { error, error_description: description };
}

// Authorization requests: `audience` -> `resource`; and since oidc-provider (per OIDC Core)
// drops offline_access unless prompt includes `consent`, add it like Auth0 would not need to
// (the consent prompt is then auto-approved by /interaction below).
function auth0AuthorizeParams(q) {
  if (q.audience && q.resource === undefined) q.resource = q.audience;
  const scopes = split(typeof q.scope === 'string' ? q.scope : '');
  const prompts = split(typeof q.prompt === 'string' ? q.prompt : '');
  if (scopes.includes('offline_access') && !prompts.includes('consent') && !prompts.includes('none')) {
    q.prompt = [...prompts, 'consent'].join(' ');
  }
  return q;
}

// request log
provider.use(async (ctx, next) => {
  const t = Date.now();
  try {
    await next();
  } finally {
    log(ctx.method, ctx.path, ctx.status, `${Date.now() - t}ms`);
  }
});

// Auth0 compatibility on form POSTs to the provider's own endpoints:
//  * `audience=` -> `resource=` (RFC 8707), for /oauth/token, /oauth/device/code, /oauth/par, POST /authorize
//  * HTTP Basic client auth -> client_secret_post (our confidential clients accept both)
//  * stsvend-m2m without scope gets all of its API scopes (Auth0 behaviour)
//  * stsvend-test client_credentials requires test_sub
// The rewritten body is handed to oidc-provider through `req.body` (it supports an
// upstream parser and logs a one-time warning about it).
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/authorize') {
    ctx.query = auth0AuthorizeParams({ ...ctx.query });
  }
  if (ctx.method !== 'POST' || !ctx.is('application/x-www-form-urlencoded')
      || ctx.path.startsWith('/interaction/') || ctx.path.startsWith('/test/')) {
    return next();
  }
  let body = querystring.parse(await readRaw(ctx.req));
  if (body.audience && body.resource === undefined) body.resource = body.audience;
  if (ctx.path === '/authorize' || ctx.path === '/oauth/par') body = auth0AuthorizeParams(body);

  const auth = ctx.get('authorization');
  if (/^basic /i.test(auth) && body.client_secret === undefined) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      const id = decodeURIComponent(decoded.slice(0, i));
      if (id === M2M_CLIENT || id === TEST_CLIENT) {
        body.client_id = id;
        body.client_secret = decodeURIComponent(decoded.slice(i + 1));
        delete ctx.req.headers.authorization;
      }
    }
  }

  if (ctx.path === '/oauth/token' && body.grant_type === 'client_credentials') {
    if (body.client_id === M2M_CLIENT && !body.scope) {
      body.scope = clientScopes.get(M2M_CLIENT).join(' ');
    }
    if (body.client_id === TEST_CLIENT) {
      if (!body.test_sub || Array.isArray(body.test_sub)) {
        return oauthError(ctx, 400, 'invalid_request', 'test_sub is required for stsvend-test');
      }
      if (body.test_expires_in !== undefined && !/^[1-9][0-9]*$/.test(String(body.test_expires_in))) {
        return oauthError(ctx, 400, 'invalid_request', 'test_expires_in must be a positive integer');
      }
      if (extraClaims(body.test_claims) === null) {
        return oauthError(ctx, 400, 'invalid_request', `test_claims must be a JSON object naming none of ${RESERVED_CLAIMS.join(', ')}`);
      }
    }
  }
  ctx.req.body = querystring.stringify(body);
  return next();
});

// Auth0 returns `interval` from the device authorization endpoint; oidc-provider does not.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/oauth/device/code' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
    ctx.body = { ...ctx.body, interval: DEVICE_INTERVAL };
  }
});

// TEST-ONLY: approve (or deny) a pending device code without a browser.
//   POST /test/approve-device  {"user_code":"BCDF-GHJK","sub":"auth0|alice","permissions":"read:files"}
//   (JSON or form; `permissions` optional, string or array; `org_id` optional: the organisation
//   put in this user's tokens; `expires_in` optional: this user's
//   access-token lifetime in seconds from now on; `"deny": true` rejects the code)
provider.use(async (ctx, next) => {
  if (ctx.path !== '/test/approve-device') return next();
  if (ctx.method !== 'POST') return oauthError(ctx, 405, 'invalid_request', 'use POST');
  let body;
  try {
    body = await readParams(ctx);
  } catch {
    return oauthError(ctx, 400, 'invalid_request', 'bad body');
  }
  const userCode = String(body.user_code || '').toUpperCase().replace(/\W/g, '');
  const sub = body.sub ? String(body.sub) : '';
  if (!userCode || (!sub && !body.deny)) {
    return oauthError(ctx, 400, 'invalid_request', 'user_code and sub are required');
  }
  const code = await provider.DeviceCode.findByUserCode(userCode, { ignoreExpiration: true });
  if (!code) return oauthError(ctx, 404, 'invalid_grant', 'unknown user_code');
  if (code.isExpired) return oauthError(ctx, 400, 'expired_token', 'user_code expired');
  if (code.error || code.accountId) return oauthError(ctx, 409, 'invalid_grant', 'user_code already used');

  if (body.deny === true || body.deny === 'true') {
    Object.assign(code, { error: 'access_denied', errorDescription: 'End-User denied the request' });
    await code.save();
    log('device code denied', userCode);
    ctx.body = { denied: true };
    return undefined;
  }

  const params = code.params || {};
  const resource = params.resource || params.audience || API;
  if (resource !== API) return oauthError(ctx, 400, 'invalid_target', 'unknown audience');
  const allowed = clientScopes.get(code.clientId) || [];
  const requested = split(params.scope).filter((s) => allowed.includes(s));
  const grant = new provider.Grant({ accountId: sub, clientId: code.clientId });
  const oidc = requested.filter((s) => OIDC_SCOPES.includes(s));
  if (oidc.length) grant.addOIDCScope(oidc.join(' '));
  if (requested.length) grant.addResourceScope(resource, requested.join(' '));
  const grantId = await grant.save();

  if (body.permissions !== undefined) accountPermissions.set(sub, listParam(body.permissions));
  if (body.org_id) accountOrgs.set(sub, String(body.org_id));
  if (body.expires_in !== undefined) {
    if (!positiveInt(body.expires_in)) return oauthError(ctx, 400, 'invalid_request', 'expires_in must be a positive integer');
    accountTokenTtl.set(sub, Number.parseInt(body.expires_in, 10));
  }

  Object.assign(code, {
    accountId: sub,
    grantId,
    scope: requested.join(' '),
    resource,
    authTime: Math.floor(Date.now() / 1000),
    amr: ['pwd'],
  });
  await code.save();
  log('device code approved', userCode, 'for', sub);
  ctx.body = {
    approved: true, sub, client_id: code.clientId, scope: code.scope,
  };
  return undefined;
});

// Minimal login "page" (replaces oidc-provider's devInteractions). No password: type a sub.
//  * GET /interaction/:uid?sub=auth0|alice  -> logs in as that sub without a form
//  * an authorization request with login_hint=auth0|alice does the same (non-interactive
//    authorization code + PKCE flow for tests: follow the redirects with a cookie jar)
//  * otherwise a small HTML form is shown (POST /interaction/:uid/login)
// Consent is implicit (loadExistingGrant grants what was requested).
provider.use(async (ctx, next) => {
  const m = /^\/interaction\/([\w-]+)(\/login)?$/.exec(ctx.path);
  if (!m) return next();
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    return oauthError(ctx, 400, 'invalid_request', `interaction: ${err.message}`);
  }
  if (details.uid !== m[1]) return oauthError(ctx, 400, 'invalid_request', 'interaction mismatch');
  const { prompt, params } = details;

  let sub;
  let permissions;
  let expiresIn;
  let org;
  if (ctx.method === 'POST' && m[2]) {
    const form = await readParams(ctx);
    sub = form.sub;
    if (form.permissions) permissions = listParam(form.permissions);
    org = String(form.org_id ?? '').trim();
    if (form.expires_in && positiveInt(form.expires_in)) expiresIn = Number.parseInt(form.expires_in, 10);
  } else if (ctx.method === 'GET' && !m[2]) {
    sub = ctx.query.sub || params.login_hint;
    if (ctx.query.permissions) permissions = listParam(ctx.query.permissions);
    else if (params.test_permissions) permissions = listParam(params.test_permissions);
  } else {
    return oauthError(ctx, 405, 'invalid_request', 'method not allowed');
  }

  let result;
  if (prompt.name === 'login') {
    if (!sub) {
      // Pre-filled with the demo user of `bash scripts/stack.sh up`: her bucket holds the
      // demo's upload, so the first sign-in shows a file.
      page(ctx, 'stsvend test login', `<p>Local Auth0 stand-in: no password, any user id signs in.
Client <code>${esc(params.client_id)}</code>, scope <code>${esc(params.scope || '')}</code>.</p>
<form method="post" action="/interaction/${esc(details.uid)}/login">
<label for="sub">User id (sub) <small>the demo user <code>${esc(DEMO_SUB)}</code> has the demo's <code>hello.txt</code></small></label>
<input id="sub" name="sub" value="${esc(DEMO_SUB)}" autofocus>
<label for="permissions">Permissions (optional, space separated) <small>default <code>${esc(DEFAULT_USER_PERMISSIONS.join(' '))}</code>;
the operator console needs <code>read:files write:files admin:users</code></small></label>
<input id="permissions" name="permissions">
<label for="org_id">Organisation (optional) <small>Auth0 Organizations: the token's <code>org_id</code>, e.g. <code>org_acme</code>;
its team files need <code>write:team-files</code> or <code>read:team-files</code> above</small></label>
<input id="org_id" name="org_id">
<label for="expires_in">Access-token lifetime in seconds (optional)</label>
<input id="expires_in" name="expires_in" inputmode="numeric">
<button type="submit">Sign in</button></form>`);
      return undefined;
    }
    if (permissions) accountPermissions.set(String(sub), permissions);
    // Signing in without an organisation gives tokens without one, as in Auth0.
    if (org) accountOrgs.set(String(sub), org);
    else if (org !== undefined) accountOrgs.delete(String(sub));
    if (expiresIn) accountTokenTtl.set(String(sub), expiresIn);
    result = { login: { accountId: String(sub), amr: ['pwd'] } };
  } else if (prompt.name === 'consent') {
    // Only reached if something was not pre-granted; grant it now.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    const d = prompt.details || {};
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [rs, sc] of Object.entries(d.missingResourceScopes || {})) grant.addResourceScope(rs, sc.join(' '));
    result = { consent: { grantId: await grant.save() } };
  } else {
    return oauthError(ctx, 400, 'invalid_request', `unsupported prompt ${prompt.name}`);
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
});

provider.on('server_error', (ctx, err) => log('server_error', ctx?.path, err));
provider.on('grant.error', (ctx, err) => log('grant.error', err.error, err.error_description || '', err.error_detail || ''));

const server = http.createServer(provider.callback());
server.on('error', (err) => {
  log(`cannot listen on ${HOST}:${PORT}: ${err.code || err.message}`);
  process.exit(1);
});
server.listen(PORT, HOST, () => {
  log(`auth0 stand-in listening: issuer ${ISSUER} audience ${API} keys ${jwksPath}`);
  log(`discovery ${ISSUER}.well-known/openid-configuration`);
});

function shutdown(sig) {
  log(`received ${sig}, closing`);
  server.close(() => process.exit(0));
  server.closeAllConnections(); // don't wait for idle keep-alive sockets
  setTimeout(() => process.exit(0), 1000);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
