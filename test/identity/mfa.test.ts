// Two-step sign-in, replayed as attacks (SECURITY.md controls 2, 5, 9-12; regressions
// NC-SA-2018-007/-011, CVE-2021-41177, Grav GHSA-9j6w-2q6c-q3q8).
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { startApp, setupOwner, DEMO_PASSWORD, type TestApp } from '../helpers/app.ts';
import { ManualClock } from '../../core/clock.ts';
import { seedDemo } from '../../core/demo.ts';
import { sha256Hex } from '../../core/ids.ts';
import { HttpClient } from '../helpers/http.ts';
import { code, enrolFromAccount, lastMailTo, loginWithTotp, recoveryCodesOn, secretOn } from './support.ts';

const test = suite('mfa');
let app: TestApp;
const clock = new ManualClock(Date.UTC(2026, 10, 28, 9, 0, 0));
const secrets = new Map<string, { secret: string; codes: string[] }>();
let owner: HttpClient;

/** The owner, signed in now (the clock moves by hours in this suite, so sessions expire). */
async function asOwner(): Promise<HttpClient> {
  owner = app.client();
  assert.is((await owner.login('owner@harbor.example', 'correct-horse-battery-staple')).status, 303);
  await owner.get('/staff/');
  return owner;
}

async function signedIn(email: string): Promise<HttpClient> {
  const c = app.client();
  const res = await c.login(email, DEMO_PASSWORD);
  assert.is(res.status, 303, `sign-in of ${email}`);
  await c.get('/account');
  return c;
}

test.before(async () => {
  app = await startApp({ clock });
  ({ client: owner } = await setupOwner(app));
  await seedDemo(app.kernel, { actorId: null }, DEMO_PASSWORD);
  await owner.get('/staff/');
});
test.after(async () => {
  await app.close();
});

test('enrolment needs a recent sign-in: after 15 minutes the page asks again and a POST is 403; re-auth issues a new session id', async () => {
  const c = await signedIn('ada@northwind.example');
  clock.advance(16 * 60_000);
  const page = await c.get('/account/mfa/setup');
  assert.is(page.status, 302);
  assert.is(page.location, '/account/reauth?next=%2Faccount%2Fmfa%2Fsetup');
  const post = await c.postForm('/account/mfa/setup', { code: '123456' });
  assert.is(post.status, 403, 'auth older than 15 min, no password: 403');
  const before = c.sessionCookie()!;
  await c.get(page.location!);
  const wrong = await c.postForm('/account/reauth', { password: 'not my password at all', next: '/account/mfa/setup' });
  assert.is(wrong.status, 401);
  const re = await c.postForm('/account/reauth', { password: DEMO_PASSWORD, next: '/account/mfa/setup' });
  assert.is(re.status, 303);
  assert.is(re.location, '/account/mfa/setup');
  assert.ok(c.sessionCookie() && c.sessionCookie() !== before, 'new session id at re-authentication');
  const replay = new HttpClient(app.url);
  replay.cookies.set('atrium_sid', before);
  assert.is((await replay.get('/account')).status, 302, 'the old id is dead');
  c.csrf = undefined;
  const setup = await c.get('/account/mfa/setup');
  assert.is(setup.status, 200, `${setup.status} ${setup.location}`);
  assert.match(setup.text, /<img class="qr-code" src="data:image\/svg\+xml;base64,[A-Za-z0-9+/]+(=|&#x3D;){0,2}"/, 'Handlebars writes base64 padding as &#x3D;');
  assert.not.match(setup.text, /<script(?![^>]*nonce)/, 'no inline script');
});

test('activation needs a valid code; the secret is stored encrypted, never in plaintext', async () => {
  const c = await signedIn('ada@northwind.example');
  const page = await c.get('/account/mfa/setup');
  const secret = secretOn(page);
  const bad = await c.postForm('/account/mfa/setup', { code: '000000' === code(app, secret) ? '111111' : '000000' });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'aria-invalid="true"');
  const ada = await app.kernel.db('users').where({ email: 'ada@northwind.example' }).first();
  assert.is(ada.mfa_enabled_at, null, 'not activated by a wrong code');
  const done = await c.postForm('/account/mfa/setup', { code: code(app, secret) });
  assert.is(done.status, 200);
  const codes = recoveryCodesOn(done);
  assert.is(codes.length, 10);
  assert.ok(codes.every((x) => /^[A-Z2-7]{5}-[A-Z2-7]{5}$/.test(x)));
  secrets.set('ada', { secret, codes });
  const row = await app.kernel.db('users').where({ email: 'ada@northwind.example' }).first();
  assert.ok(row.mfa_enabled_at);
  assert.match(row.mfa_secret, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  const everything = JSON.stringify(await app.kernel.db('users').select()) + JSON.stringify(await app.kernel.db('sessions').select()) + JSON.stringify(await app.kernel.db('mfa_recovery_codes').select());
  assert.not.match(everything, secret, 'no plaintext secret anywhere in the database');
  assert.not.match(everything, codes[0]!.replace('-', ''), 'recovery codes are hashed');
  const hashes = await app.kernel.db('mfa_recovery_codes').where({ user_id: row.id }).pluck('code_hash');
  assert.ok(hashes.every((h: string) => h.startsWith('$argon2id$')));
  // The at-rest key was generated once in the data folder, readable by its owner only.
  assert.is(statSync(join(app.db.dataDir, 'mfa.key')).mode & 0o777, 0o600);
});

test('a half-signed-in session reaches only the challenge; enrolment mid-login is refused', async () => {
  const c = app.client();
  const res = await c.login('ada@northwind.example', DEMO_PASSWORD);
  assert.is(res.location, '/login/mfa');
  assert.is((await c.get('/w/northwind/')).location, '/login/mfa');
  assert.is((await c.get('/account')).location, '/login/mfa');
  assert.is((await c.get('/staff/')).location, '/login/mfa');
  const hx = await c.get('/w/northwind/', { 'HX-Request': 'true' });
  assert.is(hx.status, 401);
  assert.is(hx.headers.get('hx-redirect'), '/login/mfa');
  await c.get('/login/mfa');
  assert.is((await c.postForm('/account/sessions/others', {})).status, 401);
  assert.is((await c.postForm('/w/northwind/invitations', { email: 'x@y.example', role: 'client_viewer' })).status, 401);
  assert.is((await c.get('/login/mfa/setup')).status, 403, 'no new factor while the existing one is unproven');
  assert.is((await c.postForm('/login/mfa/setup', { code: '123456' })).status, 403);
});

test('a code is accepted once per step; a replay, or a code from t-60 s, is refused; the session id changes at completion', async () => {
  const { secret } = secrets.get('ada')!;
  const c = app.client();
  await c.login('ada@northwind.example', DEMO_PASSWORD);
  await c.get('/login/mfa');
  const pendingSid = c.sessionCookie()!;
  clock.advance(30_000);
  const now = code(app, secret);
  const ok = await c.postForm('/login/mfa', { code: now });
  assert.is(ok.status, 303);
  assert.is(ok.location, '/');
  assert.ok(c.sessionCookie() !== pendingSid, 'a new session id at MFA completion');
  assert.not.ok(await app.kernel.db('sessions').where({ id_hash: sha256Hex(pendingSid) }).first(), 'the pending session is gone');
  // Same code again from another browser, within the same step.
  const d = app.client();
  await d.login('ada@northwind.example', DEMO_PASSWORD);
  await d.get('/login/mfa');
  assert.is((await d.postForm('/login/mfa', { code: now })).status, 401, 'replay refused');
  assert.is((await d.postForm('/login/mfa', { code: code(app, secret, -60_000) })).status, 401, 'two steps old: refused');
  clock.advance(30_000);
  assert.is((await d.postForm('/login/mfa', { code: code(app, secret, -30_000) })).status, 401, 'one step old but already past the last used step');
  clock.advance(30_000);
  assert.is((await d.postForm('/login/mfa', { code: code(app, secret) })).status, 303);
  await app.kernel.throttle.reset(`mfa:acct:${(await app.kernel.db('users').where({ email: 'ada@northwind.example' }).first()).id}`);
});

test('a reset of the password does not skip the second step; pending logins die with it (NC-SA-2020-001)', async () => {
  const pending = app.client();
  await pending.login('ada@northwind.example', DEMO_PASSWORD);
  await pending.get('/login/mfa');
  const other = app.client();
  await other.postForm('/password/forgot', { email: 'ada@northwind.example' });
  const link = /\/password\/reset\/[A-Za-z0-9_-]{43}/.exec((await lastMailTo(app, 'ada@northwind.example')).text)![0];
  await other.get(link);
  const newPassword = 'copper lantern by the harbour';
  assert.is((await other.postForm(link, { password: newPassword, confirm: newPassword })).status, 303);
  assert.is((await pending.get('/login/mfa')).location, '/login', 'the pending session ended');
  assert.is((await pending.postForm('/login/mfa', { code: '123456' })).status, 403, 'its CSRF token died with it');
  const again = app.client();
  const res = await again.login('ada@northwind.example', newPassword);
  assert.is(res.location, '/login/mfa', 'TOTP still asked after a reset');
  clock.advance(30_000);
  await again.get('/login/mfa');
  assert.is((await again.postForm('/login/mfa', { code: code(app, secrets.get('ada')!.secret) })).status, 303);
  // Back to the demo password for the rest of the suite.
  await app.kernel.db('users').where({ email: 'ada@northwind.example' }).update({ password_hash: await app.kernel.passwords.hash(DEMO_PASSWORD) });
});

test('5 wrong codes lock the challenge with 429 + Retry-After; a fresh password sign-in is still locked (Grav)', async () => {
  const { secret } = secrets.get('ada')!;
  const c = app.client();
  await c.login('ada@northwind.example', DEMO_PASSWORD);
  await c.get('/login/mfa');
  for (let i = 1; i <= 4; i++) assert.is((await c.postForm('/login/mfa', { code: '000001' })).status, 401, `attempt ${i}`);
  const fifth = await c.postForm('/login/mfa', { code: '000001' });
  assert.is(fifth.status, 429);
  assert.ok(Number(fifth.headers.get('retry-after')) > 0);
  clock.advance(30_000);
  assert.is((await c.postForm('/login/mfa', { code: code(app, secret) })).status, 429, 'even the right code');
  const fresh = app.client();
  await fresh.login('ada@northwind.example', DEMO_PASSWORD);
  await fresh.get('/login/mfa');
  assert.is((await fresh.postForm('/login/mfa', { code: code(app, secret) })).status, 429, 'a new password sign-in does not reset the counter');
  clock.advance(16 * 60_000);
  const later = app.client();
  await later.login('ada@northwind.example', DEMO_PASSWORD);
  await later.get('/login/mfa');
  assert.is((await later.postForm('/login/mfa', { code: code(app, secret) })).status, 303, 'after the lock, the right code works');
});

test('10 wrong codes in 15 minutes across several sign-ins lock the account', async () => {
  const ben = await signedIn('ben@northwind.example');
  const { secret } = await enrolFromAccount(app, ben, DEMO_PASSWORD);
  secrets.set('ben', { secret, codes: [] });
  const statuses: number[] = [];
  for (const tries of [4, 4, 2]) {
    const c = app.client();
    await c.login('ben@northwind.example', DEMO_PASSWORD);
    await c.get('/login/mfa');
    for (let i = 0; i < tries; i++) statuses.push((await c.postForm('/login/mfa', { code: '999999' })).status);
  }
  assert.equal(statuses, [401, 401, 401, 401, 401, 401, 401, 401, 401, 429]);
  const c = app.client();
  await c.login('ben@northwind.example', DEMO_PASSWORD);
  await c.get('/login/mfa');
  clock.advance(30_000);
  assert.is((await c.postForm('/login/mfa', { code: code(app, secret) })).status, 429);
  clock.advance(16 * 60_000);
});

test('the throttle store failing closes the door: 503, not a free pass (CVE-2021-41177)', async () => {
  const c = app.client();
  await c.login('ben@northwind.example', DEMO_PASSWORD);
  await c.get('/login/mfa');
  await app.kernel.db.schema.renameTable('throttle', 'throttle_away');
  try {
    clock.advance(30_000);
    const res = await c.postForm('/login/mfa', { code: code(app, secrets.get('ben')!.secret) });
    assert.is(res.status, 503);
    c.csrf = undefined;
    assert.is((await c.get('/w/northwind/')).location, '/login/mfa', 'still not signed in');
    const d = app.client();
    assert.is((await d.login('owner@harbor.example', 'correct-horse-battery-staple')).status, 503, 'sign-in fails closed too');
  } finally {
    await app.kernel.db.schema.renameTable('throttle_away', 'throttle');
  }
});

test('a secret that cannot be decrypted denies the sign-in (provider error = deny)', async () => {
  const ben = await app.kernel.db('users').where({ email: 'ben@northwind.example' }).first();
  const parts = String(ben.mfa_secret).split('.');
  const flipped = [parts[0], parts[1], parts[2]!.slice(0, -2) + (parts[2]!.endsWith('AA') ? 'AB' : 'AA'), parts[3]].join('.');
  await app.kernel.db('users').where({ id: ben.id }).update({ mfa_secret: flipped });
  try {
    const c = app.client();
    await c.login('ben@northwind.example', DEMO_PASSWORD);
    await c.get('/login/mfa');
    clock.advance(30_000);
    assert.is((await c.postForm('/login/mfa', { code: code(app, secrets.get('ben')!.secret) })).status, 401);
    c.csrf = undefined;
    assert.is((await c.get('/w/northwind/')).location, '/login/mfa');
  } finally {
    await app.kernel.db('users').where({ id: ben.id }).update({ mfa_secret: ben.mfa_secret });
  }
  // The GCM tag is pinned to 16 bytes, and a ciphertext is bound to its user.
  const sealed = app.kernel.mfa.seal('JBSWY3DPEHPK3PXP', 'user:a');
  const [v, iv, ct, tag] = sealed.split('.');
  const shortTag = Buffer.from(tag!, 'base64url').subarray(0, 4).toString('base64url');
  assert.throws(() => app.kernel.mfa.open([v, iv, ct, shortTag].join('.'), 'user:a'), /ATR_MFA_SECRET/);
  assert.throws(() => app.kernel.mfa.open(sealed, 'user:b'), /ATR_MFA_SECRET/);
  assert.is(app.kernel.mfa.open(sealed, 'user:a'), 'JBSWY3DPEHPK3PXP');
});

test('recovery codes: single use, regeneration voids the old ones', async () => {
  const { codes } = secrets.get('ada')!;
  const c = app.client();
  await c.login('ada@northwind.example', DEMO_PASSWORD);
  await c.get('/login/mfa');
  assert.is((await c.postForm('/login/mfa', { code: codes[1]! })).status, 303);
  c.csrf = undefined;
  await c.get('/account');
  const fresh = await c.postForm('/account/mfa/recovery-codes', {});
  assert.is(fresh.status, 200);
  const newCodes = recoveryCodesOn(fresh);
  assert.is(newCodes.length, 10);
  const d = app.client();
  await d.login('ada@northwind.example', DEMO_PASSWORD);
  await d.get('/login/mfa');
  assert.is((await d.postForm('/login/mfa', { code: codes[2]! })).status, 401, 'an old code no longer works');
  assert.is((await d.postForm('/login/mfa', { code: newCodes[0]! })).status, 303);
  secrets.set('ada', { secret: secrets.get('ada')!.secret, codes: newCodes.slice(1) });
});

test('an admin MFA reset is audited, mailed to the person, and ends their sessions', async () => {
  const ben = await app.kernel.db('users').where({ email: 'ben@northwind.example' }).first();
  clock.advance(30_000);
  const benClient = app.client();
  assert.is((await loginWithTotp(app, benClient, 'ben@northwind.example', DEMO_PASSWORD, secrets.get('ben')!.secret)).status, 303);
  await asOwner();
  await owner.get(`/admin/people/${ben.id}`);
  const res = await owner.postForm(`/admin/people/${ben.id}/mfa/reset`, {});
  assert.is(res.status, 303);
  const audit = await app.kernel.db('audit_events').where({ action: 'core.mfa.reset', subject_id: ben.id }).first();
  assert.ok(audit, 'audited');
  const mail = await lastMailTo(app, 'ben@northwind.example');
  assert.is(mail.subject, 'Your two-step sign-in was reset');
  assert.is((await benClient.get('/w/northwind/')).status, 302, 'signed out');
  const after = await app.kernel.db('users').where({ id: ben.id }).first();
  assert.is(after.mfa_secret, null);
  assert.is(Number((await app.kernel.db('mfa_recovery_codes').where({ user_id: ben.id }).count({ n: '*' }).first())!.n), 0);
});

test('admins require MFA for staff: enrolment is forced at the next sign-in, and nothing else is reachable before it', async () => {
  await asOwner();
  await owner.get('/admin/security');
  assert.is((await owner.postForm('/admin/security/staff', { requireMfaStaff: 'yes' })).status, 303);
  const sam = app.client();
  const res = await sam.login('sam.staff@firm.example', DEMO_PASSWORD);
  assert.is(res.location, '/login/mfa');
  assert.is((await sam.get('/login/mfa')).location, '/login/mfa/setup');
  assert.is((await sam.get('/staff/')).location, '/login/mfa');
  const setup = await sam.get('/login/mfa/setup');
  assert.is(setup.status, 200);
  const secret = secretOn(setup);
  const done = await sam.postForm('/login/mfa/setup', { code: code(app, secret) });
  assert.is(done.status, 200);
  assert.is(recoveryCodesOn(done).length, 10);
  sam.csrf = undefined;
  assert.is((await sam.get('/staff/')).status, 200);
  await owner.postForm('/admin/security/staff', { requireMfaStaff: 'no' });
});

test('admins require MFA per workspace for its clients; clients of other workspaces are not affected', async () => {
  await asOwner();
  await owner.get('/admin/security');
  assert.is((await owner.postForm('/admin/security/workspaces/globex', { requireMfa: 'yes' })).status, 303);
  const ws = await app.kernel.db('workspaces').where({ slug: 'globex' }).first();
  assert.is(JSON.parse(ws.settings).requireMfa, true);
  const cara = app.client();
  assert.is((await cara.login('cara@globex.example', DEMO_PASSWORD)).location, '/login/mfa');
  assert.is((await cara.get('/login/mfa')).location, '/login/mfa/setup');
  const ben = app.client();
  assert.is((await ben.login('ben@northwind.example', DEMO_PASSWORD)).location, '/', 'northwind does not require it');
  // Turning MFA off is refused while it is required.
  const caraSetup = await cara.get('/login/mfa/setup');
  await cara.postForm('/login/mfa/setup', { code: code(app, secretOn(caraSetup)) });
  cara.csrf = undefined;
  await cara.get('/account');
  const off = await cara.postForm('/account/mfa/disable', {});
  assert.is(off.status, 400);
  assert.match(off.text, 'requires two-step sign-in');
});

test.run();
