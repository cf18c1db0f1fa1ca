#!/usr/bin/env node
// A headless "browser" for tests/idp/provider.mjs: no person, no real browser.
//
//   drive.mjs browser [--deny] [--login EMAIL --password PW] URL
//       URL is the authorization URL a client opens (the last argument, as aws-oidc's
//       --browser-command passes it). Performs the provider's login and consent pages as a
//       browser would (cookies, form POSTs, 303 redirects), then issues the GET to the
//       loopback redirect_uri (http://127.0.0.1:<port>/callback?code=…&state=…&iss=…) and
//       prints `callback: HTTP <status>` on stderr. Exit 0 when the callback answered 2xx.
//       --deny presses "Deny" at the consent page (the callback then gets error=access_denied).
//   drive.mjs device [--deny] [--login EMAIL --password PW] [--issuer URL] CODE_OR_URL
//       Opens the provider's device verification page (<issuer>/device, or the given
//       verification_uri / verification_uri_complete), submits the user code, confirms (or
//       aborts with --deny), logs in and consents. Prints `device: approved` / `device: denied`
//       on stderr; exit 0 when the provider's last page says so.
//
// Account by default: dev@example.com / dev-password. Nothing secret is printed (no code,
// no callback URL). Exit 1 with one line on stderr on anything unexpected; every step has a
// 10 s timeout.

import http from 'node:http';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    deny: { type: 'boolean', default: false },
    login: { type: 'string', default: 'dev@example.com' },
    password: { type: 'string', default: 'dev-password' },
    issuer: { type: 'string' },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});

const die = (msg) => { process.stderr.write(`drive: ${msg}\n`); process.exit(1); };
const say = (msg) => process.stderr.write(`${msg}\n`);
const trace = (msg) => { if (opts.verbose) say(`drive: ${msg}`); };

// ------------------------------------------------------------------------------ a tiny browser
const jar = new Map(); // name -> value (one origin: the provider's)

function storeCookies(res) {
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attrs.some((a) => {
      const [k, v] = a.trim().split('=');
      if (k.toLowerCase() === 'max-age') return Number(v) <= 0;
      if (k.toLowerCase() === 'expires') return Date.parse(a.trim().slice(8)) <= Date.now();
      return false;
    });
    if (expired || value === '') jar.delete(name); else jar.set(name, value);
  }
}

async function request(url, { method = 'GET', form } = {}) {
  const headers = { 'user-agent': 'aws-oidc-test-driver/1', accept: 'text/html' };
  if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  let body;
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  trace(`${method} ${new URL(url).pathname}`);
  let res;
  try {
    res = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(10000) });
  } catch (e) {
    die(`${method} ${new URL(url).origin}${new URL(url).pathname}: ${e.cause?.code || e.message}`);
  }
  storeCookies(res);
  return res;
}

function attrs(tag) {
  const out = {};
  for (const m of tag.matchAll(/([\w.:-]+)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/g)) {
    out[m[1].toLowerCase()] = unescape(m[3] ?? m[4] ?? m[5]);
  }
  return out;
}
function unescape(s) {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
// Forms of a page: [{id, action, method, fields: {name: value}}]
function forms(html, base) {
  const out = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const a = attrs(m[1]);
    const fields = {};
    for (const i of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const ia = attrs(i[1]);
      if (ia.name) fields[ia.name] = ia.value ?? '';
    }
    out.push({
      id: a.id || '', action: new URL(a.action || base, base).href, method: (a.method || 'GET').toUpperCase(), fields,
    });
  }
  return out;
}
function pageError(html) {
  const m = html.match(/id="error"[^>]*>([\s\S]*?)</) || html.match(/<p class="red">([\s\S]*?)</) || html.match(/<title>([\s\S]*?)</);
  return m ? unescape(m[1]).trim().slice(0, 300) : '(no message)';
}

// ------------------------------------------------------------------------------ flows
// Follows a page chain on the provider until `done(res, url)` returns a value.
async function walk(startUrl, { origin, onForm, done }) {
  let res = await request(startUrl);
  let url = startUrl;
  for (let step = 0; step < 20; step += 1) {
    const result = await done(res, url);
    if (result !== undefined) return result;
    if (res.status >= 300 && res.status < 400) {
      const to = new URL(res.headers.get('location'), url).href;
      if (new URL(to).origin !== origin) return { leftProviderTo: to };
      url = to;
      res = await request(url);
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) die(`provider answered HTTP ${res.status} at ${new URL(url).pathname}: ${pageError(html)}`);
    const list = forms(html, url);
    // A page that submits itself with JavaScript (oidc-provider's "Submitting Callback"):
    // do what a browser does.
    const chosen = /document\.forms\[0\]\.submit\(\)/.test(html) && list.length ? list[0] : onForm(list, html, url);
    if (!chosen) die(`unexpected page at ${new URL(url).pathname}: ${pageError(html)}`);
    url = chosen.action;
    res = await request(chosen.action, { method: chosen.method, form: chosen.fields });
  }
  return die('too many steps');
}

// Login and consent pages of provider.mjs (shared by both flows).
function interaction(list) {
  const login = list.find((f) => f.id === 'login');
  if (login) return { ...login, fields: { ...login.fields, login: opts.login, password: opts.password } };
  if (list.find((f) => f.id === 'confirm')) return list.find((f) => f.id === (opts.deny ? 'abort' : 'confirm'));
  return undefined;
}

async function browser(authUrl) {
  if (!authUrl) die('usage: drive.mjs browser [--deny] URL');
  let origin;
  try { origin = new URL(authUrl).origin; } catch { die('the last argument is not a URL'); }
  const out = await walk(authUrl, {
    origin,
    onForm: (list) => interaction(list),
    done: () => undefined,
  });
  const cb = new URL(out.leftProviderTo);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(cb.hostname) || cb.protocol !== 'http:') {
    die(`the provider redirected to ${cb.origin}, not to a loopback redirect_uri`);
  }
  trace(`callback GET ${cb.origin}${cb.pathname} (params: ${[...cb.searchParams.keys()].join(',')})`);
  // node:http, not fetch: fetch refuses the spec's "bad ports" (e.g. 6000, 10080).
  const status = await new Promise((resolve) => {
    const req = http.get(cb.href, { headers: { 'user-agent': 'aws-oidc-test-driver/1' }, timeout: 10000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => die(`callback ${cb.origin}${cb.pathname}: ${e.code || e.message}`));
  });
  say(`callback: HTTP ${status}`);
  process.exit(status >= 200 && status < 300 ? 0 : 1);
}

async function device(codeOrUrl) {
  if (!codeOrUrl) die('usage: drive.mjs device [--deny] [--issuer URL] USER_CODE|VERIFICATION_URI');
  let start;
  let userCode;
  if (/^https?:\/\//.test(codeOrUrl)) {
    start = new URL(codeOrUrl);
    userCode = start.searchParams.get('user_code') || undefined;
  } else {
    if (!opts.issuer) die('device USER_CODE needs --issuer URL');
    start = new URL(`${opts.issuer.replace(/\/$/, '')}/device`);
    userCode = codeOrUrl;
  }
  const { origin } = start;
  let outcome;
  await walk(start.href, {
    origin,
    onForm: (list, html) => {
      const input = list.find((f) => f.id === 'op.deviceInputForm');
      if (input) {
        if (/class="red"/.test(html)) die(`device page: ${pageError(html)}`);
        if (!userCode) die('no user code to enter');
        return { ...input, fields: { ...input.fields, user_code: userCode } };
      }
      const confirm = list.find((f) => f.id === 'op.deviceConfirmForm');
      if (confirm) {
        // The page's two buttons: "Continue" submits the form as is, "[ Abort ]" adds abort=yes.
        return opts.deny ? { ...confirm, fields: { ...confirm.fields, abort: 'yes' } } : confirm;
      }
      return interaction(list);
    },
    done: async (res) => {
      if (res.status !== 200) return undefined;
      const html = await res.clone().text();
      if (/<title>Sign-in Success<\/title>/.test(html)) { outcome = 'approved'; return true; }
      // After "[ Abort ]" oidc-provider shows the code input page again with this message.
      if (/The Sign-in request was interrupted/.test(html)) { outcome = 'denied'; return true; }
      return undefined;
    },
  });
  say(`device: ${outcome}`);
  process.exit(outcome === (opts.deny ? 'denied' : 'approved') ? 0 : 1);
}

const [cmd, ...rest] = positionals;
if (cmd === 'browser') await browser(rest[rest.length - 1]);
else if (cmd === 'device') await device(rest[rest.length - 1]);
else die('usage: drive.mjs browser [--deny] URL | drive.mjs device [--deny] [--issuer URL] USER_CODE|URL');
