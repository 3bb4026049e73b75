// Sessions (SECURITY.md controls 2-5): my sessions on /account and "sign out other sessions";
// password change, account disable and membership removal end sessions (pending-MFA ones too);
// idle and absolute expiry; re-authentication before changing the password or the email.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, DEMO_PASSWORD, type TestApp } from '../helpers/app.ts';
import { ManualClock } from '../../core/clock.ts';
import { seedDemo } from '../../core/demo.ts';
import { sha256Hex } from '../../core/ids.ts';
import { HttpClient } from '../helpers/http.ts';
import { enrolFromAccount, lastMailTo, linkIn, pathOf } from './support.ts';

const test = suite('sessions');
let app: TestApp;
const clock = new ManualClock(Date.UTC(2026, 10, 28, 9, 0, 0));
const MIN = 60_000;
const NEW_PW = 'granite steps down to the river';

async function as(email: string, password = DEMO_PASSWORD, ua = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0'): Promise<HttpClient> {
  const c = app.client();
  c.csrf = undefined;
  await c.request('GET', '/login', { headers: { 'user-agent': ua } });
  const res = await c.request('POST', '/login', {
    body: new URLSearchParams({ _csrf: c.csrf!, email, password }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': ua },
  });
  assert.is(res.status, 303, email);
  c.csrf = undefined;
  await c.get('/account');
  return c;
}
const asOwner = () => as('owner@harbor.example', 'correct-horse-battery-staple');

test.before(async () => {
  app = await startApp({ clock });
  await setupOwner(app);
  await seedDemo(app.kernel, { actorId: null }, DEMO_PASSWORD);
});
test.after(async () => {
  await app.close();
});

test('/account lists my sessions; "sign out every other session" ends the others only', async () => {
  const laptop = await as('ada@northwind.example');
  const phone = await as('ada@northwind.example', DEMO_PASSWORD, 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Safari/604.1');
  const page = await laptop.get('/account');
  assert.is(page.status, 200);
  assert.match(page.text, 'Firefox on Linux');
  assert.match(page.text, 'Safari on iOS');
  assert.match(page.text, '(this browser)');
  assert.is(page.headers.get('cache-control'), 'no-store');
  const res = await laptop.postForm('/account/sessions/others', {});
  assert.is(res.status, 303);
  assert.is((await phone.get('/w/northwind/')).status, 302, 'the phone is signed out');
  assert.is((await laptop.get('/w/northwind/')).status, 200, 'this browser is not');
  assert.ok(await app.kernel.db('audit_events').where({ action: 'core.session.revoke_others' }).first());
});

test('changing the password needs a recent sign-in (403 after 15 min), ends every other session (pending MFA too) and renews this one', async () => {
  const me = await as('ben@northwind.example');
  const other = await as('ben@northwind.example');
  clock.advance(16 * MIN);
  assert.is((await me.get('/account/password')).location, '/account/reauth?next=%2Faccount%2Fpassword');
  assert.is((await me.postForm('/account/password', { password: NEW_PW, confirm: NEW_PW })).status, 403, 'no recent password: 403');
  await me.get('/account/reauth');
  assert.is((await me.postForm('/account/reauth', { password: DEMO_PASSWORD, next: '/account/password' })).location, '/account/password');
  me.csrf = undefined;
  await me.get('/account/password');
  // A half-signed-in session of the same person (password known, TOTP pending) exists too.
  await app.kernel.db('users').where({ email: 'ben@northwind.example' }).update({ mfa_enabled_at: clock.now(), mfa_secret: 'v1.x.y.z' });
  const pending = app.client();
  assert.is((await pending.login('ben@northwind.example', DEMO_PASSWORD)).location, '/login/mfa');
  await app.kernel.db('users').where({ email: 'ben@northwind.example' }).update({ mfa_enabled_at: null, mfa_secret: null });
  const sidBefore = me.sessionCookie()!;
  const res = await me.postForm('/account/password', { password: NEW_PW, confirm: NEW_PW });
  assert.is(res.status, 303);
  assert.ok(me.sessionCookie() !== sidBefore, 'this session gets a new id');
  assert.not.ok(await app.kernel.db('sessions').where({ id_hash: sha256Hex(sidBefore) }).first());
  me.csrf = undefined;
  assert.is((await me.get('/w/northwind/')).status, 200);
  assert.is((await other.get('/w/northwind/')).status, 302, 'the other session ended');
  assert.is((await pending.get('/login/mfa')).location, '/login', 'the pending-MFA session ended');
  assert.is((await lastMailTo(app, 'ben@northwind.example')).subject, 'Your password was changed');
  await app.kernel.db('users').where({ email: 'ben@northwind.example' }).update({ password_hash: await app.kernel.passwords.hash(DEMO_PASSWORD) });
});

test('disabling an account ends its sessions at once; removing a membership ends them and the workspace is gone', async () => {
  const cara = await as('cara@globex.example');
  const owner = await asOwner();
  const caraId = (await app.kernel.db('users').where({ email: 'cara@globex.example' }).first()).id;
  await owner.get(`/admin/people/${caraId}`);
  assert.is((await owner.postForm(`/admin/people/${caraId}/disable`, {})).status, 303);
  assert.is((await cara.get('/w/globex/')).status, 302);
  assert.is((await app.client().login('cara@globex.example', DEMO_PASSWORD)).status, 401, 'a disabled account cannot sign in');
  assert.is((await owner.postForm(`/admin/people/${caraId}/enable`, {})).status, 303);
  const again = await as('cara@globex.example');
  assert.is((await again.get('/w/globex/')).status, 200);
  const m = await app.kernel.db('memberships as m').join('workspaces as w', 'w.id', 'm.workspace_id').where({ 'm.user_id': caraId, 'w.slug': 'globex' }).first('m.id');
  const removed = await owner.postForm(`/admin/people/${caraId}/memberships/${m.id}/remove`, {});
  assert.is(removed.status, 303);
  assert.is((await again.get('/w/globex/')).status, 302, 'signed out');
  const back = await as('cara@globex.example');
  assert.is((await back.get('/w/globex/')).status, 404, 'the role is gone');
  const actions = await app.kernel.db('audit_events').whereIn('action', ['core.user.disable', 'core.user.enable', 'core.membership.remove']).pluck('action');
  assert.equal(actions.sort(), ['core.membership.remove', 'core.user.disable', 'core.user.enable']);
});

test('an admin cannot disable an owner or themselves', async () => {
  await app.kernel.db('users').where({ email: 'sam.staff@firm.example' }).update({ firm_role: 'admin' });
  const sam = await as('sam.staff@firm.example');
  const ownerId = (await app.kernel.db('users').where({ email: 'owner@harbor.example' }).first()).id;
  const samId = (await app.kernel.db('users').where({ email: 'sam.staff@firm.example' }).first()).id;
  await sam.get('/admin/people');
  assert.is((await sam.postForm(`/admin/people/${ownerId}/disable`, {})).status, 403);
  assert.is((await sam.postForm(`/admin/people/${ownerId}/mfa/reset`, {})).status, 403);
  assert.is((await sam.postForm(`/admin/people/${samId}/disable`, {})).status, 403);
  await app.kernel.db('users').where({ email: 'sam.staff@firm.example' }).update({ firm_role: 'staff' });
});

test('idle 31 minutes, or 12 h 1 min of activity, ends a session server-side', async () => {
  const idle = await as('ada@northwind.example');
  clock.advance(31 * MIN);
  assert.is((await idle.get('/w/northwind/')).status, 302);
  assert.is((await idle.get('/w/northwind/', { 'HX-Request': 'true' })).status, 401);
  const busy = await as('ada@northwind.example');
  for (let t = 0; t < 12 * 60; t += 20) {
    clock.advance(20 * MIN);
    const res = await busy.get('/w/northwind/');
    if (t + 20 < 12 * 60) assert.is(res.status, 200, `at ${t + 20} min`);
  }
  clock.advance(1 * MIN);
  assert.is((await busy.get('/w/northwind/')).status, 302, '12 h after sign-in');
});

test('changing the email: re-auth, a link to the new address (GET shows a page), the old address told', async () => {
  const ada = await as('ada@northwind.example');
  await ada.get('/account/email');
  const res = await ada.postForm('/account/email', { email: 'ada.new@northwind.example' });
  assert.is(res.status, 303);
  const link = pathOf(linkIn((await lastMailTo(app, 'ada.new@northwind.example')).text, '/account/email/confirm/'));
  const anyone = app.client();
  assert.is((await anyone.get(link)).status, 200);
  assert.ok(await app.kernel.db('users').where({ email: 'ada@northwind.example' }).first(), 'a GET changes nothing');
  assert.is((await anyone.postForm(link, {})).status, 303);
  assert.ok(await app.kernel.db('users').where({ email: 'ada.new@northwind.example' }).first());
  assert.is((await lastMailTo(app, 'ada@northwind.example')).subject, 'Your sign-in email was changed');
  assert.is((await anyone.get(link)).status, 410, 'single use');
  await as('ada.new@northwind.example');
  // Asking for an address that has an account answers the same and sends nothing.
  const again = await as('ada.new@northwind.example');
  await again.get('/account/email');
  const before = Number(((await app.kernel.db('outbox').where({ to_address: 'ben@northwind.example' }).count({ n: '*' }).first()) as { n: number }).n);
  assert.is((await again.postForm('/account/email', { email: 'ben@northwind.example' })).status, 303);
  const after = Number(((await app.kernel.db('outbox').where({ to_address: 'ben@northwind.example' }).count({ n: '*' }).first()) as { n: number }).n);
  assert.is(after, before);
});

test('TOTP works for re-authentication too, and turning MFA off needs it', async () => {
  const ben = await as('ben@northwind.example');
  const { secret } = await enrolFromAccount(app, ben, DEMO_PASSWORD);
  clock.advance(16 * MIN);
  assert.is((await ben.postForm('/account/mfa/disable', {})).status, 403);
  await ben.get('/account/reauth');
  clock.advance(30_000);
  const re = await ben.postForm('/account/reauth', { code: app.kernel.mfa.codeAt(secret, clock.now()), next: '/account' });
  assert.is(re.status, 303);
  ben.csrf = undefined;
  await ben.get('/account');
  assert.is((await ben.postForm('/account/mfa/disable', {})).status, 303);
  const row = await app.kernel.db('users').where({ email: 'ben@northwind.example' }).first();
  assert.is(row.mfa_enabled_at, null);
});

test.run();
