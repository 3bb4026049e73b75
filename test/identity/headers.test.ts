// Security headers on every kind of response (SECURITY.md controls 22, 23, 50): nonce CSP,
// Permissions-Policy, Referrer-Policy, COOP/CORP, nosniff, no framing, no-store on everything
// dynamic (pages, fragments, redirects, errors), HSTS only when served over TLS.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, type TestApp } from '../helpers/app.ts';

const test = suite('headers');
let app: TestApp;
let tls: TestApp;

test.before(async () => {
  app = await startApp();
  await setupOwner(app);
  tls = await startApp({ overrides: { baseUrl: 'https://portal.harbor.example' } });
});
test.after(async () => {
  await app.close();
  await tls.close();
});

function common(res: Response, label: string) {
  assert.is(res.headers.get('x-content-type-options'), 'nosniff', label);
  assert.is(res.headers.get('x-frame-options'), 'DENY', label);
  assert.is(res.headers.get('cross-origin-opener-policy'), 'same-origin', label);
  assert.is(res.headers.get('cross-origin-resource-policy'), 'same-origin', label);
  assert.match(res.headers.get('permissions-policy') ?? '', 'camera=()', label);
  assert.ok(res.headers.get('referrer-policy'), label);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'nonce-[A-Za-z0-9_-]+' 'strict-dynamic'/, label);
  assert.match(csp, "object-src 'none'", label);
  assert.match(csp, "base-uri 'none'", label);
  assert.match(csp, "frame-ancestors 'none'", label);
  assert.not.match(csp, 'unsafe-', label);
}

test('pages, redirects, fragments, errors and probes all carry the headers; everything dynamic is no-store', async () => {
  const c = app.client();
  await c.login('owner@harbor.example', 'correct-horse-battery-staple');
  const sid = c.sessionCookie()!;
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${app.url}${path}`, { redirect: 'manual', headers: { cookie: `atrium_sid=${sid}`, ...headers } });
  const cases: Array<[string, Response]> = [
    ['page', await get('/staff/')],
    ['fragment', await get('/staff/', { 'HX-Request': 'true' })],
    ['redirect', await get('/')],
    ['404', await get('/no/such/page')],
    ['account', await get('/account')],
    ['anonymous login page', await fetch(`${app.url}/login`)],
    ['anonymous redirect', await fetch(`${app.url}/staff/`, { redirect: 'manual' })],
  ];
  for (const [label, res] of cases) {
    common(res, label);
    assert.is(res.headers.get('cache-control'), 'no-store', label);
  }
  assert.is(cases[2]![1].status, 302);
  assert.match(cases[1]![1].headers.get('vary') ?? '', /HX-Request/i);
  common(await fetch(`${app.url}/healthz`), 'healthz');
  assert.is((await fetch(`${app.url}/healthz`)).headers.get('strict-transport-security'), null, 'no HSTS over plain HTTP');
});

test('each response gets its own nonce', async () => {
  const nonce = async () => /'nonce-([^']+)'/.exec((await fetch(`${app.url}/login`)).headers.get('content-security-policy') ?? '')?.[1];
  const a = await nonce();
  const b = await nonce();
  assert.ok(a && b && a !== b);
});

test('over TLS: HSTS for a year with subdomains, and a __Host- Secure cookie', async () => {
  const res = await fetch(`${tls.url}/setup`, { redirect: 'manual' });
  assert.match(res.headers.get('strict-transport-security') ?? '', /max-age=31536000; includeSubDomains/);
  common(res, 'tls');
  const cookie = res.headers.getSetCookie().join('\n');
  assert.match(cookie, /__Host-atrium_sid=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure/);
});

test('the reset, invitation and email-confirmation pages never leak their token in a Referer', async () => {
  for (const path of [`/password/reset/${'a'.repeat(43)}`, `/invite/${'b'.repeat(43)}`, `/account/email/confirm/${'c'.repeat(43)}`]) {
    const res = await fetch(`${app.url}${path}`);
    assert.is(res.status, 410, path);
    assert.is(res.headers.get('referrer-policy'), 'no-referrer', path);
  }
});

test.run();
