// First run, sign in and out, session rotation and CSRF.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, type TestApp } from './helpers/app.ts';
import { sha256Hex } from '../core/ids.ts';

const test = suite('auth');
let app: TestApp;

test.before(async () => {
  app = await startApp();
});
test.after(async () => {
  await app.close();
});

test('before setup, / and /login go to /setup', async () => {
  const c = app.client();
  assert.is((await c.get('/')).location, '/setup');
  assert.is((await c.get('/login')).location, '/setup');
  const page = await c.get('/setup');
  assert.is(page.status, 200);
  assert.match(page.text, 'name="firmName"');
  const demoBox = /<input id="demo"[^>]*>/.exec(page.text)?.[0] ?? '';
  assert.match(demoBox, 'type="checkbox"');
  assert.not.match(demoBox, 'checked', 'demo data is optional: unticked until the person ticks it');
});

test('setup refuses a weak password and bad email, beside the field, saving nothing', async () => {
  const c = app.client();
  const res = await c.postForm('/setup', { firmName: 'Harbor & Vale LLP', name: 'Olivia', email: 'not-an-email', password: 'Harbor&Vale1' });
  assert.is(res.status, 400);
  assert.match(res.text, 'id="email-error"');
  assert.match(res.text, 'id="password-error"', 'the weak password is reported together with the bad email');
  const res2 = await c.postForm('/setup', { firmName: 'Harbor Vale', name: 'Olivia', email: 'o@harbor.example', password: 'short' });
  assert.match(res2.text, 'id="password-error"');
  assert.match(res2.text, 'value="Harbor Vale"', 'entered values are kept');
  assert.not.match(res2.text, 'value="short"', 'the password is never echoed back');
  assert.is(Number((await app.kernel.db('users').count({ n: '*' }).first())!.n), 0);
});

test('setup creates the owner and firm name, signs them in, and shows an empty staff overview', async () => {
  const { client } = await setupOwner(app);
  const home = await client.get('/');
  assert.is(home.location, '/staff/');
  const staff = await client.get('/staff/');
  assert.is(staff.status, 200);
  assert.match(staff.text, 'No client workspaces yet');
  assert.match(staff.text, 'Harbor &amp; Vale LLP', 'firm name from setup is the brand');
  const owner = await app.kernel.db('users').first();
  assert.is(owner.firm_role, 'owner');
  assert.match(owner.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  const actions = await app.kernel.db('audit_events').orderBy('seq').pluck('action');
  assert.ok(actions.includes('core.user.create') && actions.includes('core.setup.complete'));
});

test('after setup, /setup answers 404 for GET and POST', async () => {
  const c = app.client();
  assert.is((await c.get('/setup')).status, 404);
  const res = await c.postForm('/setup', { firmName: 'Evil', name: 'Mallory', email: 'm@evil.example', password: 'mallory-password-123' });
  assert.is(res.status, 404);
  assert.is(Number((await app.kernel.db('users').count({ n: '*' }).first())!.n), 1);
});

test('login with a wrong password or unknown email fails the same way, 401', async () => {
  const c = app.client();
  const wrong = await c.login('owner@harbor.example', 'not-the-password');
  const unknown = await c.login('nobody@harbor.example', 'not-the-password');
  assert.is(wrong.status, 401);
  assert.is(unknown.status, 401);
  assert.match(wrong.text, 'do not match an active account');
  // Same page apart from per-request tokens and the email typed in.
  const normalise = (t: string) => t.replace(/content="[^"]+"|value="[A-Za-z0-9_-]{43}"|nonce="[^"]+"|value="[^"]*@[^"]*"/g, '');
  assert.is(normalise(wrong.text), normalise(unknown.text));
  assert.not.ok(c.cookies.size && (await c.get('/staff/')).status === 200);
});

test('login succeeds with the email in any case, and the session id changes at login', async () => {
  const c = app.client();
  await c.get('/login');
  const before = c.sessionCookie();
  assert.ok(before, 'an anonymous session carries the login form token');
  const beforeCsrf = c.csrf;
  const res = await c.postForm('/login', { email: 'OWNER@Harbor.example', password: 'correct-horse-battery-staple', next: '/staff/' });
  assert.is(res.status, 303);
  assert.is(res.location, '/staff/');
  const after = c.sessionCookie();
  assert.ok(after && after !== before, 'new session id');
  // The pre-login session is gone from the database, and its cookie no longer works.
  assert.not.ok(await app.kernel.db('sessions').where({ id_hash: sha256Hex(before!) }).first());
  const replay = app.client();
  replay.cookies.set('atrium_sid', before!);
  assert.is((await replay.get('/staff/')).status, 302);
  // The CSRF token rotated too: the pre-login token is refused.
  const refused = await c.postForm('/logout', {}, { csrf: beforeCsrf });
  assert.is(refused.status, 403);
  // Only the hash is stored.
  assert.ok(await app.kernel.db('sessions').where({ id_hash: sha256Hex(after!) }).first());
  assert.not.ok(await app.kernel.db('sessions').where({ id_hash: after! }).first());
});

test('the session cookie is HttpOnly, SameSite=Lax, Path=/', async () => {
  const res = await fetch(`${app.url}/login`);
  const cookie = res.headers.getSetCookie()[0]!;
  assert.match(cookie, /^atrium_sid=[A-Za-z0-9_-]{43}; /);
  assert.match(cookie, 'HttpOnly');
  assert.match(cookie, 'SameSite=Lax');
  assert.match(cookie, 'Path=/');
});

test('a next= pointing off-site is ignored', async () => {
  const c = app.client();
  await c.get('/login');
  const res = await c.postForm('/login', { email: 'owner@harbor.example', password: 'correct-horse-battery-staple', next: '//evil.example/x' });
  assert.is(res.location, '/');
});

test('a state-changing request without a CSRF token is refused with 403 and changes nothing', async () => {
  const c = app.client();
  await c.login('owner@harbor.example', 'correct-horse-battery-staple');
  await c.get('/staff/');
  const noToken = await c.postForm('/admin/workspaces', { name: 'Sneaky Co' }, { csrf: false });
  assert.is(noToken.status, 403);
  assert.match(noToken.text, 'expired or did not come from this site');
  const wrongToken = await c.postForm('/admin/workspaces', { name: 'Sneaky Co' }, { csrf: 'x'.repeat(43) });
  assert.is(wrongToken.status, 403);
  const crossSite = await c.postForm('/admin/workspaces', { name: 'Sneaky Co' }, { headers: { 'sec-fetch-site': 'cross-site' } });
  assert.is(crossSite.status, 403);
  const foreignOrigin = await c.postForm('/admin/workspaces', { name: 'Sneaky Co' }, { headers: { origin: 'https://evil.example' } });
  assert.is(foreignOrigin.status, 403);
  // An opaque origin is only accepted when Fetch Metadata says same-origin (a no-referrer page).
  const opaqueCrossSite = await c.postForm('/admin/workspaces', { name: 'Sneaky Co' }, { headers: { origin: 'null', 'sec-fetch-site': 'cross-site' } });
  assert.is(opaqueCrossSite.status, 403);
  const opaqueNoMetadata = await c.postForm('/admin/workspaces', { name: 'Sneaky Co' }, { headers: { origin: 'null' } });
  assert.is(opaqueNoMetadata.status, 403);
  assert.not.ok(await app.kernel.db('workspaces').where({ name: 'Sneaky Co' }).first());
  // Another session's token does not work either.
  const other = app.client();
  await other.get('/login');
  const foreign = await c.postForm('/admin/workspaces', { name: 'Sneaky Co' }, { csrf: other.csrf });
  assert.is(foreign.status, 403);
  const opaqueSameOrigin = await c.postForm('/admin/workspaces', { name: 'Opaque Origin Co' }, { headers: { origin: 'null', 'sec-fetch-site': 'same-origin' } });
  assert.is(opaqueSameOrigin.status, 303, 'a form posted from a no-referrer page of this site');
  // With the right token (as htmx sends it, in a header) the same request works.
  const ok = await c.request('POST', '/admin/workspaces', {
    body: new URLSearchParams({ name: 'Sneaky Co' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': c.csrf! },
  });
  assert.is(ok.status, 303);
});

test('logout is POST only, ends the session and audits it', async () => {
  const c = app.client();
  await c.login('owner@harbor.example', 'correct-horse-battery-staple');
  await c.get('/staff/');
  const sid = c.sessionCookie()!;
  assert.is((await c.get('/logout')).status, 404);
  const res = await c.postForm('/logout', {});
  assert.is(res.location, '/login');
  assert.not.ok(await app.kernel.db('sessions').where({ id_hash: sha256Hex(sid) }).first());
  const again = app.client();
  again.cookies.set('atrium_sid', sid);
  assert.is((await again.get('/staff/')).location, '/login?next=%2Fstaff%2F');
  const last = await app.kernel.db('audit_events').orderBy('seq', 'desc').first();
  assert.is(last.action, 'core.session.logout');
});

test.run();
