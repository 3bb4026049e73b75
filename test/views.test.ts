// Views and themes: theme overrides of plugin views, htmx fragments, branding as CSS variables,
// and the theme linter.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, setupOwner, FIXTURE, type TestApp } from './helpers/app.ts';
import { seedDemo } from '../core/demo.ts';
import { checkTheme } from '../core/views/theme-check.ts';
import { realPng } from './helpers/images.ts';

const test = suite('views');
const PW = 'demo-password-for-tests';
let app: TestApp;
let themed: TestApp;

test.before(async () => {
  app = await startApp({ plugins: [FIXTURE] });
  await setupOwner(app);
  await seedDemo(app.kernel, { actorId: null }, PW);
  themed = await startApp({ plugins: [FIXTURE], theme: join(process.cwd(), 'test/fixtures/themes/fixture-theme') });
  await setupOwner(themed);
  await seedDemo(themed.kernel, { actorId: null }, PW);
});
test.after(async () => {
  await app.close();
  await themed.close();
});

test('the plugin view renders as the plugin wrote it under the default theme', async () => {
  const c = app.client();
  await c.login('ada@northwind.example', PW);
  const page = await c.get('/w/northwind/fixture/');
  assert.match(page.text, '<h1 id="fixture-title">Notes</h1>');
  assert.match(page.text, 'Hello, Ada Lindqvist', 'service resolved from the plugin container, settings default');
});

test('a theme overrides a plugin view by path, and inherits the layout it does not override', async () => {
  const c = themed.client();
  await c.login('ada@northwind.example', PW);
  const page = await c.get('/w/northwind/fixture/');
  assert.match(page.text, 'Notes (themed)');
  assert.match(page.text, 'Rendered by fixture-theme: Hello, Ada Lindqvist');
  assert.match(page.text, '<!doctype html>', 'layout inherited from default');
});

test('an htmx request gets the fragment without the layout; a plain request gets the page; both Vary on HX-Request', async () => {
  const c = app.client();
  await c.login('ada@northwind.example', PW);
  const full = await c.get('/w/northwind/fixture/');
  const frag = await c.get('/w/northwind/fixture/', { 'HX-Request': 'true' });
  assert.is(full.status, 200);
  assert.is(frag.status, 200);
  assert.match(full.text, '<!doctype html>');
  assert.match(full.text, '<nav');
  assert.not.match(frag.text, '<html');
  assert.not.match(frag.text, 'skip-link');
  assert.match(frag.text, '<h1 id="fixture-title">Notes</h1>');
  assert.match(full.headers.get('vary') ?? '', /HX-Request/i);
  assert.match(frag.headers.get('vary') ?? '', /HX-Request/i);
  assert.is(frag.headers.get('cache-control'), 'no-store');
});

test('htmx is served by the app, not a CDN; pages reference only local scripts with the CSP nonce', async () => {
  const res = await fetch(`${app.url}/vendor/htmx.min.js`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', 'javascript');
  const js = await res.text();
  assert.match(js, 'htmx');
  const page = await fetch(`${app.url}/login`);
  const html = await page.text();
  const csp = page.headers.get('content-security-policy') ?? '';
  const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
  assert.ok(nonce);
  assert.not.match(csp, 'unsafe-inline');
  assert.not.match(csp, 'unsafe-eval');
  assert.match(csp, "frame-ancestors 'none'");
  const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]!);
  assert.ok(scripts.length >= 2);
  for (const s of scripts) {
    assert.match(s, /src="\/(vendor|assets)\//);
    assert.match(s, `nonce="${nonce}"`);
  }
  assert.not.match(html, /https?:\/\/(?!www\.w3\.org)[^"]*\.js/);
});

test('branding: an admin changes name and colours; they arrive as --brand-* variables and on the next page', async () => {
  const owner = app.client();
  await owner.login('owner@harbor.example', 'correct-horse-battery-staple');
  await owner.get('/admin/branding');
  const bad = await owner.postForm('/admin/branding', { firmName: 'Harbor Legal', primary: '#ffff00', accent: 'blue' });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'id="primary-error"');
  assert.match(bad.text, 'Too light to read against white');
  assert.match(bad.text, 'id="accent-error"');
  assert.match(bad.text, 'value="Harbor Legal"', 'entered values kept');
  assert.not.match((await fetch(`${app.url}/brand.css`).then((r) => r.text())), '#ffff00');

  const ok = await owner.postForm('/admin/branding', { firmName: 'Harbor Legal', primary: '#0B3D2E', accent: '#8A1C4A' });
  assert.is(ok.status, 303);
  const css = await fetch(`${app.url}/brand.css`).then((r) => r.text());
  assert.match(css, '--brand-primary: #0b3d2e;');
  assert.match(css, '--brand-accent: #8a1c4a;');
  const client = app.client();
  await client.login('ada@northwind.example', PW);
  const page = await client.get('/w/northwind/');
  assert.match(page.text, '<title>Northwind Traders · Harbor Legal</title>');
  const v = /href="\/brand\.css\?v=(\d+)"/.exec(page.text)?.[1];
  const versioned = await fetch(`${app.url}/brand.css?v=${v}`);
  assert.match(versioned.headers.get('cache-control') ?? '', 'immutable');
  assert.ok(await app.kernel.db('audit_events').where({ action: 'core.branding.update' }).first());
});

test('the firm’s time zone: set on the branding page, used for everyone who has not chosen their own', async () => {
  const owner = app.client();
  await owner.login('owner@harbor.example', 'correct-horse-battery-staple');
  await owner.get('/admin/branding');
  const bad = await owner.postForm('/admin/branding', { firmName: 'Harbor Legal', primary: '#0B3D2E', accent: '#8A1C4A', timeZone: 'Nowhere/Town' });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'id="timeZone-error"');
  assert.is((await owner.postForm('/admin/branding', { firmName: 'Harbor Legal', primary: '#0B3D2E', accent: '#8A1C4A', timeZone: 'Europe/Paris' })).status, 303);
  app.kernel.branding.invalidate();
  const client = app.client();
  await client.login('ada@northwind.example', PW);
  const account = await client.get('/account');
  assert.match(account.text, 'The firm’s time zone (Europe/Paris)');
  // The sessions table's times are in the firm's zone (CET or CEST, shown as GMT+1 / GMT+2).
  assert.match(account.text, /title="\d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d (CET|CEST|GMT\+[12])"/);
  assert.is((await owner.postForm('/admin/branding', { firmName: 'Harbor Legal', primary: '#0B3D2E', accent: '#8A1C4A', timeZone: 'UTC' })).status, 303);
});

test('branding: a client cannot change it (404 on the admin area), and CSS injection is impossible', async () => {
  const client = app.client();
  await client.login('ada@northwind.example', PW);
  await client.get('/w/northwind/');
  const res = await client.postForm('/admin/branding', { firmName: 'Pwned', primary: '#000000;} body{display:none', accent: '#000000' });
  assert.is(res.status, 404);
  const css = await fetch(`${app.url}/brand.css`).then((r) => r.text());
  assert.not.match(css, 'display:none');
});

test('branding: a logo upload (multipart, CSRF header) is sniffed by magic bytes', async () => {
  const owner = app.client();
  await owner.login('owner@harbor.example', 'correct-horse-battery-staple');
  await owner.get('/admin/branding');
  const upload = async (data: Buffer, name: string, withToken = true) => {
    const form = new FormData();
    form.append('logo', new Blob([data]), name);
    return owner.request('POST', '/admin/branding/logo', { body: form, headers: withToken ? { 'x-csrf-token': owner.csrf!, 'hx-request': 'true' } : {} });
  };
  assert.is((await upload(Buffer.from('<svg onload=alert(1)>'), 'logo.png')).status, 415);
  assert.is((await upload(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]), 'logo.png', false)).status, 403);
  // A real image: the upload is decoded in full (core/images.ts), magic bytes alone are refused.
  const ok = await upload(realPng(), 'logo.png');
  assert.is(ok.status, 204);
  assert.is(ok.headers.get('hx-redirect'), '/admin/branding');
  const logo = await fetch(`${app.url}/brand/logo`);
  assert.is(logo.headers.get('content-type'), 'image/png');
  assert.is(logo.headers.get('x-content-type-options'), 'nosniff');
  const big = await upload(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(600 * 1024)]), 'big.png');
  assert.is(big.status, 413);
});

test('theme:check passes the shipped themes and names what is wrong with a broken one', async () => {
  assert.equal(checkTheme(join(process.cwd(), 'themes/default')).filter((f) => f.level === 'error'), []);
  const dir = mkdtempSync(join(tmpdir(), 'atrium-theme-'));
  const broken = join(dir, 'broken');
  cpSync(join(process.cwd(), 'themes/default'), broken, { recursive: true });
  rmSync(join(broken, 'layouts/auth.hbs'));
  writeFileSync(join(broken, 'theme.json'), JSON.stringify({ name: 'broken', version: '1.0', colour: 'red' }));
  writeFileSync(join(broken, 'partials/bad.hbs'), '<div style="color:red" onclick="x()">{{{userInput}}}</div><script>alert(1)</script>{{#if}}');
  writeFileSync(join(broken, 'assets/extra.css'), ':root { --brand-primary: red; }');
  const codes = checkTheme(broken).map((f) => f.code);
  for (const code of ['ATR_THEME_TEMPLATE_MISSING', 'ATR_THEME_MANIFEST_INVALID', 'ATR_THEME_UNSAFE_OUTPUT', 'ATR_THEME_INLINE_SCRIPT', 'ATR_THEME_INLINE_HANDLER', 'ATR_THEME_INLINE_STYLE', 'ATR_THEME_TEMPLATE_SYNTAX', 'ATR_THEME_BRAND_DEFINED']) {
    assert.ok(codes.includes(code), `expected ${code} in ${codes.join(', ')}`);
  }
  assert.equal(checkTheme(join(dir, 'missing')).map((f) => f.code), ['ATR_THEME_DIR_MISSING']);
  rmSync(dir, { recursive: true, force: true });
});

test('a theme missing a required layout stops boot, not the first request', async () => {
  const err = await startApp({ theme: './test/fixtures/themes/no-auth-layout' }).then(
    () => null,
    (e) => e,
  );
  assert.is(err?.code, 'ATR_THEME_INVALID');
  assert.match(err?.message ?? '', 'layouts/auth.hbs');
  const codes = checkTheme(join(process.cwd(), 'test/fixtures/themes/no-auth-layout')).map((f) => f.code);
  assert.ok(codes.includes('ATR_THEME_TEMPLATE_MISSING'));
});

test('the fixture theme, which extends an installed theme from outside themes/, passes theme:check', () => {
  assert.equal(checkTheme(join(process.cwd(), 'test/fixtures/themes/fixture-theme')).filter((f) => f.level === 'error'), []);
});

test('the shipped ledger theme overrides the layout and the team plugin widget', async () => {
  assert.equal(checkTheme(join(process.cwd(), 'themes/ledger')).filter((f) => f.level === 'error'), []);
  const ledger = await startApp({ plugins: ['team'], theme: 'ledger' });
  try {
    await setupOwner(ledger);
    await seedDemo(ledger.kernel, { actorId: null }, PW);
    const c = ledger.client();
    await c.login('ada@northwind.example', PW);
    const page = await c.get('/w/northwind/');
    assert.match(page.text, 'ledger-sidebar', 'ledger layout');
    assert.match(page.text, 'class="ledger-person-name">Sam Okafor', 'ledger team widget');
    assert.match(page.text, '/assets/theme/ledger.css');
    const css = await fetch(`${ledger.url}/assets/theme/ledger.css`);
    assert.is(css.status, 200);
    assert.is((await fetch(`${ledger.url}/assets/theme/theme.css`)).status, 200, 'inherited from default');
    const login = await ledger.client().get('/login');
    assert.match(login.text, 'name="password"', 'auth layout inherited from default');
  } finally {
    await ledger.close();
  }
});

test('the section nav marks the current plugin page', async () => {
  const c = app.client();
  await c.login('ada@northwind.example', PW);
  const page = await c.get('/w/northwind/fixture/');
  assert.match(page.text, /href="\/w\/northwind\/fixture" aria-current="page"/);
  assert.not.match(page.text, /href="\/w\/northwind\/" aria-current="page"/);
});

test('asset paths cannot escape the theme folder', async () => {
  for (const path of ['/assets/theme/..%2f..%2fpackage.json', '/assets/theme/../../package.json', '/assets/theme/%2e%2e/theme.json']) {
    const res = await fetch(`${app.url}${path}`);
    assert.is(res.status, 404, path);
  }
});

test('an unknown theme stops boot with ATR_THEME_NOT_FOUND', async () => {
  const err = await startApp({ theme: 'no-such-theme' }).then(
    () => null,
    (e) => e,
  );
  assert.is(err?.code, 'ATR_THEME_NOT_FOUND');
});

test.run();
