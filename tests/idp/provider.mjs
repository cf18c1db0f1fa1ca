#!/usr/bin/env node
// A real OpenID provider for aws-oidc's tests: panva's oidc-provider (OpenID Certified),
// configured for a CLI on a laptop, on 127.0.0.1 only. See tests/idp/README.md.
//
//   node tests/idp/provider.mjs --port-file F [--port 0] [--log-file L]
//        [--id-token-ttl S] [--access-token-ttl S] [--refresh-token-ttl S] [--device-code-ttl S]
//
// Issuer http://127.0.0.1:<port>. Clients (all native, loopback redirect
// http://127.0.0.1:<any port>/callback, grants authorization_code + refresh_token + device_code,
// scopes openid email profile offline_access):
//   aws-cli             public (token_endpoint_auth_method none), PKCE S256 required, ID token RS256
//   aws-cli-es256       the same with ID tokens signed ES256
//   aws-cli-secret      confidential, client_secret_basic (secret below)
//   aws-cli-secret-post confidential, client_secret_post (secret below)
// Account: dev@example.com / dev-password (sub dev-0001), other@example.com / other-password.
//
// Refresh tokens rotate on every use for every client, and presenting a spent one revokes the
// whole grant (oidc-provider's reuse detection).
//
// Admin endpoints (tests only, JSON):
//   GET  /_admin/config            the current settings
//   POST /_admin/config            {"id_token_ttl": s, "access_token_ttl": s, "refresh_token_ttl": s,
//                                   "device_code_ttl": s,
//                                   "device_poll_errors": ["slow_down", "access_denied", ...],
//                                     (the next device_code token polls that would answer an
//                                      error, e.g. authorization_pending, answer these, one each)
//                                   "authorization_iss": "http://other" | null
//                                     (rewrite `iss` in authorization redirects to loopback)}
//   GET  /_admin/token_requests    every token endpoint call: grant_type, client_id, status, error,
//                                  form (the body sent), basic_auth, issued (tokens answered)
//   POST /_admin/reset             forget token requests, poll errors, iss override
// The chosen port is written to --port-file (atomically) once the server listens. Everything
// the provider or Node prints goes to --log-file. SIGTERM/SIGINT stop it cleanly (exit 0).

import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, format } from 'node:util';

// ------------------------------------------------------------------------------ arguments
const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'port-file': { type: 'string' },
    'log-file': { type: 'string' },
    'id-token-ttl': { type: 'string', default: '3600' },
    'access-token-ttl': { type: 'string', default: '3600' },
    'refresh-token-ttl': { type: 'string', default: String(14 * 24 * 3600) },
    'device-code-ttl': { type: 'string', default: '600' },
    'saml-dir': { type: 'string' },
    python: { type: 'string' },
  },
});
const HERE = path.dirname(fileURLToPath(import.meta.url));
// The Python that runs saml_sign.py (needs signxml): --python, $AWS_OIDC_TEST_PYTHON, the
// repository's .venv, else python3.
const PYTHON = args.python || process.env.AWS_OIDC_TEST_PYTHON
  || (fs.existsSync(path.join(HERE, '../../.venv/bin/python')) ? path.join(HERE, '../../.venv/bin/python') : 'python3');
const SAML_SIGN = path.join(HERE, 'saml_sign.py');
const SAML_DIR = args['saml-dir'] || fs.mkdtempSync(path.join(os.tmpdir(), 'aws-oidc-idp-saml-'));

// ------------------------------------------------------------------------------ logging
// Never on the test's output: console.* and process warnings go to the log file.
let logStream = null;
if (args['log-file']) {
  logStream = fs.createWriteStream(args['log-file'], { flags: 'a' });
  const write = (level) => (...a) => logStream.write(`${new Date().toISOString()} ${level} ${format(...a)}\n`);
  console.log = write('info');
  console.info = write('info');
  console.warn = write('warn');
  console.error = write('error');
  console.debug = write('debug');
  process.removeAllListeners('warning');
  process.on('warning', (w) => logStream.write(`${new Date().toISOString()} node-warning ${w.name}: ${w.message}\n`));
}
const log = (...a) => console.log(...a);

const settings = {
  id_token_ttl: Number(args['id-token-ttl']),
  access_token_ttl: Number(args['access-token-ttl']),
  refresh_token_ttl: Number(args['refresh-token-ttl']),
  device_code_ttl: Number(args['device-code-ttl']),
  device_poll_errors: [],
  authorization_iss: null,
};
const tokenRequests = [];

// ------------------------------------------------------------------------------ SAML (token exchange)
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const SAML2 = 'urn:ietf:params:oauth:token-type:saml2';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const SAML_DEFAULTS = {
  // Values of https://aws.amazon.com/SAML/Attributes/Role, in this order.
  roles: ['arn:aws:iam::123456789012:role/saml-dev,arn:aws:iam::123456789012:saml-provider/aws-oidc-test-idp'],
  recipient: 'https://signin.aws.amazon.com/saml',
  audience: null, // null: the exchange's `audience`
  not_on_or_after: 300, // seconds from now; negative: already expired
  encrypt: false, // answer a (fake) <saml:EncryptedAssertion>
  session_name: null, // RoleSessionName attribute; null: the account's email
  session_duration: null, // SessionDuration attribute (seconds); null: absent
  saml_clients: ['urn:amazon:webservices'], // audiences the exchange accepts (Keycloak SAML clients)
};
const saml = structuredClone(SAML_DEFAULTS);
let samlCert = null;
function samlCertPath() {
  if (!samlCert) {
    samlCert = execFileSync(PYTHON, [SAML_SIGN, SAML_DIR, '--init'], { encoding: 'utf8' }).trim();
  }
  return samlCert;
}
function samlSign(request) {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SAML_SIGN, SAML_DIR], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = []; const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`saml_sign.py exited ${code}: ${Buffer.concat(err).toString().slice(-2000)}`));
    });
    child.stdin.end(JSON.stringify(request));
  });
}
// `Authorization: Basic` credentials as {client_id, client_secret} (form-decoded, RFC 6749 2.3.1).
function basicAuth(header) {
  const m = /^Basic\s+(\S+)$/i.exec(header || '');
  if (!m) return null;
  const raw = Buffer.from(m[1], 'base64').toString();
  const i = raw.indexOf(':');
  if (i < 0) return null;
  const dec = (x) => decodeURIComponent(x.replace(/\+/g, ' '));
  return { client_id: dec(raw.slice(0, i)), client_secret: dec(raw.slice(i + 1)) };
}

// oidc-provider warns on stderr (its `attention` helper) about Node versions it does not
// test with; import it only after console is redirected.
const { default: Provider, errors } = await import('oidc-provider');

// ------------------------------------------------------------------------------ accounts
const ACCOUNTS = {
  'dev-0001': {
    login: 'dev@example.com', password: 'dev-password',
    claims: { email: 'dev@example.com', email_verified: true, preferred_username: 'dev', name: 'Dev User' },
  },
  'other-0002': {
    login: 'other@example.com', password: 'other-password',
    claims: { email: 'other@example.com', email_verified: true, preferred_username: 'other', name: 'Other User' },
  },
};
function accountByLogin(login, password) {
  for (const [sub, a] of Object.entries(ACCOUNTS)) {
    if (a.login === login && a.password === password) return sub;
  }
  return undefined;
}

// ------------------------------------------------------------------------------ keys
function jwk(type, opts, kid, alg) {
  const { privateKey } = generateKeyPairSync(type, opts);
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}
const jwks = {
  keys: [
    jwk('rsa', { modulusLength: 2048 }, 'rs256-1', 'RS256'),
    jwk('ec', { namedCurve: 'P-256' }, 'es256-1', 'ES256'),
  ],
};

// ------------------------------------------------------------------------------ server
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(args.port), '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const common = {
  application_type: 'native',
  redirect_uris: ['http://127.0.0.1/callback', 'http://localhost/callback'],
  grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', TOKEN_EXCHANGE],
  response_types: ['code'],
  scope: 'openid email profile offline_access',
};
const SECRET = 'aws-cli-test-secret-0123456789abcdef';

const provider = new Provider(issuer, {
  clients: [
    { ...common, client_id: 'aws-cli', client_name: 'aws-oidc (test)', token_endpoint_auth_method: 'none' },
    {
      ...common, client_id: 'aws-cli-es256', token_endpoint_auth_method: 'none', id_token_signed_response_alg: 'ES256',
    },
    {
      ...common, client_id: 'aws-cli-secret', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      ...common, client_id: 'aws-cli-secret-post', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  jwks,
  cookies: { keys: ['aws-oidc-test-cookie-key-0123456789'] },
  findAccount(ctx, id) {
    const a = ACCOUNTS[id];
    if (!a) return undefined;
    return { accountId: id, claims: () => ({ sub: id, ...a.claims }) };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name'],
  },
  // Scope claims in the ID token (not only at userinfo): the CLI names sessions from them.
  conformIdTokenClaims: false,
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
  // Every refresh rotates the refresh token (oidc-provider's default does so only for public
  // clients); a spent one presented again revokes the grant (always, in oidc-provider).
  rotateRefreshToken: true,
  ttl: {
    AccessToken: () => settings.access_token_ttl,
    IdToken: () => settings.id_token_ttl,
    RefreshToken: () => settings.refresh_token_ttl,
    DeviceCode: () => settings.device_code_ttl,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 14 * 24 * 3600,
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><head><title>oops</title></head><body><h1>oops! something went wrong</h1><pre id="error">${esc(JSON.stringify(out))}</pre></body></html>`;
  },
});
provider.proxy = false;

// RFC 8693 token exchange to a SAML 2.0 assertion, like Keycloak's legacy (V1) token exchange
// with a SAML client as the audience. Errors as Keycloak words them.
provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
  const p = ctx.oidc.params;
  const subjectType = p.subject_token_type || ACCESS_TOKEN_TYPE;
  if (subjectType !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest('Invalid token type, must be access token');
  }
  if (p.requested_token_type !== SAML2) {
    throw new errors.InvalidRequest('requested_token_type unsupported');
  }
  if (!p.subject_token) throw new errors.InvalidRequest('subject_token required');
  if (!p.audience) throw new errors.InvalidRequest('audience required for a SAML token exchange');
  if (!saml.saml_clients.includes(p.audience)) {
    const e = new errors.InvalidClient('Audience not found');
    throw e;
  }
  const at = await provider.AccessToken.find(p.subject_token);
  if (!at || at.isExpired) throw new errors.InvalidRequest('Invalid token');
  const account = ACCOUNTS[at.accountId];
  if (!account) throw new errors.InvalidRequest('Invalid token');
  samlCertPath();
  const assertion = await samlSign({
    issuer: `${issuer}/realms/test`,
    subject: account.claims.preferred_username,
    roles: saml.roles,
    session_name: saml.session_name ?? account.claims.email,
    session_duration: saml.session_duration,
    recipient: saml.recipient,
    audience: saml.audience ?? p.audience,
    not_on_or_after: saml.not_on_or_after,
    encrypt: saml.encrypt,
  });
  ctx.body = {
    access_token: assertion.toString('base64url'), // base64url without padding, like Keycloak
    issued_token_type: SAML2,
    token_type: 'N_A',
    expires_in: 60,
  };
}, ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope',
  'actor_token', 'actor_token_type']);

for (const ev of ['server_error', 'grant.error', 'authorization.error', 'device_authorization.error',
  'revocation.error', 'interaction.error', 'userinfo.error', 'introspection.error']) {
  provider.on(ev, (ctx, err) => log(ev, err?.name, err?.message, err?.error_description || ''));
}
provider.on('grant.success', (ctx) => log('grant.success', ctx.oidc.params?.grant_type, ctx.oidc.client?.clientId));
provider.on('grant.revoked', (ctx, grantId) => log('grant.revoked', grantId));

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) throw new Error('form too large');
  }
  return Object.fromEntries(new URLSearchParams(body));
}

async function readJson(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body ? JSON.parse(body) : {};
}

function page(title, inner) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${inner}</body></html>`;
}

// ------------------------------------------------------------------------------ admin + interactions
provider.use(async (ctx, next) => {
  // Admin endpoints.
  if (ctx.path.startsWith('/_admin/')) {
    ctx.set('Cache-Control', 'no-store');
    if (ctx.path === '/_admin/config' && ctx.method === 'GET') {
      ctx.body = settings;
    } else if (ctx.path === '/_admin/config' && ctx.method === 'POST') {
      let patch;
      try {
        patch = await readJson(ctx.req);
      } catch (e) {
        ctx.status = 400; ctx.body = { error: String(e) }; return;
      }
      for (const [k, v] of Object.entries(patch)) {
        if (!(k in settings)) { ctx.status = 400; ctx.body = { error: `unknown setting ${k}` }; return; }
        if (k === 'device_poll_errors') {
          if (!Array.isArray(v)) { ctx.status = 400; ctx.body = { error: 'device_poll_errors must be a list' }; return; }
          settings[k] = [...v];
        } else if (k === 'authorization_iss') {
          settings[k] = v === null ? null : String(v);
        } else {
          if (typeof v !== 'number' || !(v > 0)) { ctx.status = 400; ctx.body = { error: `${k} must be a positive number` }; return; }
          settings[k] = v;
        }
      }
      log('admin config', JSON.stringify(patch));
      ctx.body = settings;
    } else if (ctx.path === '/_admin/saml' && ctx.method === 'GET') {
      ctx.body = { ...saml, cert_pem_path: samlCertPath(), key_dir: SAML_DIR };
    } else if (ctx.path === '/_admin/saml' && ctx.method === 'POST') {
      let patch;
      try {
        patch = await readJson(ctx.req);
      } catch (e) {
        ctx.status = 400; ctx.body = { error: String(e) }; return;
      }
      for (const [k, v] of Object.entries(patch)) {
        if (!(k in saml)) { ctx.status = 400; ctx.body = { error: `unknown SAML setting ${k}` }; return; }
        if ((k === 'roles' || k === 'saml_clients') && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
          ctx.status = 400; ctx.body = { error: `${k} must be a list of strings` }; return;
        }
        if (k === 'not_on_or_after' && typeof v !== 'number') { ctx.status = 400; ctx.body = { error: 'not_on_or_after must be a number' }; return; }
        saml[k] = v;
      }
      log('admin saml', JSON.stringify(patch));
      ctx.body = { ...saml, cert_pem_path: samlCertPath(), key_dir: SAML_DIR };
    } else if (ctx.path === '/_admin/token_requests' && ctx.method === 'GET') {
      ctx.body = tokenRequests;
    } else if (ctx.path === '/_admin/reset' && ctx.method === 'POST') {
      tokenRequests.length = 0;
      settings.device_poll_errors = [];
      settings.authorization_iss = null;
      Object.assign(saml, structuredClone(SAML_DEFAULTS));
      ctx.body = settings;
    } else {
      ctx.status = 404; ctx.body = { error: 'no such admin endpoint' };
    }
    return;
  }

  // Our own login and consent pages (devInteractions accepts any login and password).
  const m = ctx.path.match(/^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/);
  if (m) {
    ctx.set('Cache-Control', 'no-store');
    const [, uid, action] = m;
    let details;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (e) {
      ctx.status = 400; ctx.type = 'html'; ctx.body = page('Interaction expired', `<p id="error">${esc(e.message)}</p>`); return;
    }
    if (details.uid !== uid) { ctx.status = 400; ctx.body = 'interaction mismatch'; return; }
    const { prompt, params, session, grantId } = details;
    let result;
    if (!action && ctx.method === 'GET') {
      ctx.type = 'html';
      if (prompt.name === 'login') {
        ctx.body = page('Sign-in', `<p>Client: <strong>${esc(params.client_id)}</strong></p>
<form id="login" method="post" action="/interaction/${uid}/login" autocomplete="off">
<input type="text" name="login" required placeholder="email"/>
<input type="password" name="password" required placeholder="password"/>
<button type="submit">Sign-in</button></form>
<form id="abort" method="post" action="/interaction/${uid}/abort"><button type="submit">Cancel</button></form>`);
      } else {
        ctx.body = page('Authorize', `<p>Client <strong>${esc(params.client_id)}</strong> asks for: ${esc(params.scope || '')}</p>
<form id="confirm" method="post" action="/interaction/${uid}/confirm"><button type="submit">Allow</button></form>
<form id="abort" method="post" action="/interaction/${uid}/abort"><button type="submit">Deny</button></form>`);
      }
      return;
    }
    if (ctx.method !== 'POST') { ctx.status = 405; return; }
    if (action === 'login') {
      const form = await readForm(ctx.req);
      const sub = accountByLogin(form.login, form.password);
      if (!sub) {
        ctx.status = 401; ctx.type = 'html';
        ctx.body = page('Sign-in', `<p id="error">Invalid email or password.</p><form id="login" method="post" action="/interaction/${uid}/login"><input type="text" name="login"/><input type="password" name="password"/><button type="submit">Sign-in</button></form>`);
        return;
      }
      result = { login: { accountId: sub } };
    } else if (action === 'confirm') {
      if (prompt.name !== 'consent') { ctx.status = 400; ctx.body = 'not at consent'; return; }
      const grant = grantId ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const d = prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      if (d.missingResourceScopes) {
        for (const [indicator, scope] of Object.entries(d.missingResourceScopes)) grant.addResourceScope(indicator, scope.join(' '));
      }
      result = { consent: { grantId: await grant.save() } };
    } else if (action === 'abort') {
      result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    } else {
      ctx.status = 404; return;
    }
    const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: action !== 'login' && action !== 'abort' });
    ctx.redirect(to);
    ctx.status = 303;
    return;
  }

  const isToken = ctx.path === '/token' && ctx.method === 'POST';
  await next();

  // Device grant polls: a queued error (slow_down, access_denied, expired_token) replaces the
  // provider's own error answer (authorization_pending); a success is never replaced.
  if (isToken && ctx.status >= 400 && settings.device_poll_errors.length > 0
      && ctx.oidc?.params?.grant_type === 'urn:ietf:params:oauth:grant-type:device_code') {
    const error = settings.device_poll_errors.shift();
    log('device poll: injected', error, 'instead of', ctx.body?.error);
    ctx.status = 400;
    ctx.body = { error, error_description: `injected by the test provider (${error})` };
    ctx.oidc.injected = true;
  }
  if (isToken) {
    tokenRequests.push({
      injected: Boolean(ctx.oidc?.injected),
      grant_type: ctx.oidc?.params?.grant_type,
      client_id: ctx.oidc?.client?.clientId,
      status: ctx.status,
      error: ctx.status >= 400 ? ctx.body?.error : undefined,
      time: Date.now() / 1000,
      // For the leak (canary) tests: what the client sent (the form body: code, code_verifier,
      // device_code, refresh_token, client_secret with client_secret_post; the Basic
      // credentials) and the tokens it got back.
      form: { ...(ctx.oidc?.body || {}) },
      basic_auth: basicAuth(ctx.get('authorization')),
      issued: Object.fromEntries(['id_token', 'access_token', 'refresh_token']
        .filter((k) => typeof ctx.body?.[k] === 'string').map((k) => [k, ctx.body[k]])),
    });
  }
  // RFC 9207 mix-up tests: an authorization response carrying another issuer.
  if (settings.authorization_iss && ctx.status >= 300 && ctx.status < 400) {
    const loc = ctx.response.get('Location');
    if (loc) {
      let u;
      try { u = new URL(loc); } catch { u = null; }
      if (u && ['127.0.0.1', 'localhost'].includes(u.hostname) && u.origin !== issuer && u.searchParams.has('iss')) {
        u.searchParams.set('iss', settings.authorization_iss);
        ctx.response.set('Location', u.href);
        log('rewrote authorization response iss to', settings.authorization_iss);
      }
    }
  }
});

server.on('request', provider.callback());

if (args['port-file']) {
  const tmp = `${args['port-file']}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, `${port}\n`);
  fs.renameSync(tmp, args['port-file']);
}
log(`listening on ${issuer}`);

let stopping = false;
function stop(sig) {
  if (stopping) return;
  stopping = true;
  log(`${sig}: stopping`);
  server.close(() => {
    if (logStream) logStream.end(() => process.exit(0)); else process.exit(0);
  });
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
