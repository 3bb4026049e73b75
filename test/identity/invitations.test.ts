// Invitations, replayed as attacks (SECURITY.md controls 15, 16; faveo #8166): bound on the
// server to (workspace, email, role), 7 days, single use; tampered fields ignored; another
// workspace answers 404; reuse answers 410.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, DEMO_PASSWORD, type TestApp } from '../helpers/app.ts';
import { ManualClock } from '../../core/clock.ts';
import { seedDemo } from '../../core/demo.ts';
import { invitableRoles } from '../../core/identity/invitations.ts';
import type { HttpClient } from '../helpers/http.ts';
import { lastMailTo, linkIn, pathOf } from './support.ts';

const test = suite('invitations');
let app: TestApp;
const clock = new ManualClock(Date.UTC(2026, 10, 28, 9, 0, 0));
const PW = 'seven swans on the old canal';

async function as(email: string, password = DEMO_PASSWORD): Promise<HttpClient> {
  const c = app.client();
  assert.is((await c.login(email, password)).status, 303, email);
  await c.get('/account');
  return c;
}
const asOwner = () => as('owner@harbor.example', 'correct-horse-battery-staple');
async function inviteLink(email: string): Promise<string> {
  return pathOf(linkIn((await lastMailTo(app, email)).text, '/invite/'));
}
const outboxCount = async (to: string) => Number(((await app.kernel.db('outbox').where({ to_address: to }).count({ n: '*' }).first()) as { n: number | string }).n);

test.before(async () => {
  app = await startApp({ clock });
  await setupOwner(app);
  await seedDemo(app.kernel, { actorId: null }, DEMO_PASSWORD);
});
test.after(async () => {
  await app.close();
});

test('who may invite whom: owners and admins any client role; a client admin up to their own; members and viewers nobody', () => {
  assert.equal(invitableRoles('owner', null), ['client_admin', 'client_member', 'client_viewer']);
  assert.equal(invitableRoles(null, 'client_admin'), ['client_admin', 'client_member', 'client_viewer']);
  assert.equal(invitableRoles(null, 'client_member'), ['client_member', 'client_viewer']);
  assert.equal(invitableRoles(null, 'client_viewer'), ['client_viewer']);
  assert.equal(invitableRoles('staff', 'staff'), ['client_admin', 'client_member', 'client_viewer'], 'the account team of the workspace');
  assert.equal(invitableRoles('staff', null), [], 'staff not assigned to the workspace');
});

test("staff of the workspace's account team invite a client; staff elsewhere get 404", async () => {
  const sam = await as('sam.staff@firm.example');
  const sent = await sam.postForm('/w/northwind/invitations', { email: 'eve@northwind.example', role: 'client_admin' });
  assert.is(sent.status, 303);
  const row = await app.kernel.db('invitations').where({ email: 'eve@northwind.example' }).first();
  assert.is(row.role, 'client_admin');
  assert.ok(await app.kernel.db('audit_events').where({ action: 'core.invitation.create', subject_id: row.id }).first());
  await app.kernel.db('memberships').where({ user_id: (await app.kernel.db('users').where({ email: 'sam.staff@firm.example' }).first('id')).id }).andWhere('workspace_id', (await app.kernel.db('workspaces').where({ slug: 'globex' }).first('id')).id).delete();
  const sam2 = await as('sam.staff@firm.example');
  assert.is((await sam2.get('/w/globex/invitations')).status, 404);
});

test('a client admin invites a colleague; the link page spends nothing; accepting creates the account with the stored role, ignoring tampered fields', async () => {
  const ada = await as('ada@northwind.example');
  const list = await ada.get('/w/northwind/invitations');
  assert.is(list.status, 200);
  assert.match(list.text, '<option value="client_admin"');
  const sent = await ada.postForm('/w/northwind/invitations', { email: 'dee@northwind.example', role: 'client_viewer' });
  assert.is(sent.status, 303);
  ada.csrf = undefined;
  const pending = await ada.get('/w/northwind/invitations');
  assert.match(pending.text, 'dee@northwind.example');
  const link = await inviteLink('dee@northwind.example');
  const dee = app.client();
  assert.is((await dee.get(link)).status, 200);
  const page = await dee.get(link);
  assert.is(page.status, 200, 'opening the link twice (a mail scanner) spends nothing');
  assert.match(page.text, 'Viewer');
  const res = await dee.postForm(link, {
    name: 'Dee Client',
    password: PW,
    confirm: PW,
    role: 'owner',
    firmRole: 'owner',
    workspace: 'globex',
    email: 'mallory@evil.example',
  });
  assert.is(res.status, 303);
  assert.is(res.location, '/w/northwind/');
  const user = await app.kernel.db('users').where({ email: 'dee@northwind.example' }).first();
  assert.ok(user, 'the account has the invited email');
  assert.not.ok(await app.kernel.db('users').where({ email: 'mallory@evil.example' }).first());
  assert.is(user.firm_role, null, 'role=owner ignored');
  const memberships = await app.kernel.db('memberships as m').join('workspaces as w', 'w.id', 'm.workspace_id').where('m.user_id', user.id).select('w.slug', 'm.role');
  assert.equal(memberships, [{ slug: 'northwind', role: 'client_viewer' }], 'bound to (workspace, role) on the server');
  dee.csrf = undefined;
  assert.is((await dee.get('/w/northwind/')).status, 200);
  assert.is((await dee.get('/w/globex/')).status, 404);
  // The person who just joined opens the link again (from the mail): the workspace, with a
  // friendly word, not "this link no longer works"; on GET and on POST.
  const again = await dee.get(link);
  assert.is(again.status, 303);
  assert.is(again.location, '/w/northwind/');
  assert.match((await dee.get('/w/northwind/')).text, 'You are already a member of Northwind Traders');
  dee.csrf = undefined;
  await dee.get('/w/northwind/');
  assert.is((await dee.postForm(link, {})).location, '/w/northwind/');
  // Anyone else: 410, on GET and POST (signed out, or signed in as someone not in the workspace).
  const other = app.client();
  await other.get('/login');
  assert.is((await other.get(link)).status, 410);
  assert.match((await other.get(link)).text, 'This link no longer works');
  assert.is((await other.postForm(link, { name: 'Eve', password: PW, confirm: PW })).status, 410);
  const cara = await as('cara@globex.example');
  assert.is((await cara.get(link)).status, 410, 'signed in, but not in Northwind');
  const audit = await app.kernel.db('audit_events').where({ action: 'core.invitation.accept' }).first();
  assert.ok(audit);
  ada.csrf = undefined;
  assert.not.match((await ada.get('/w/northwind/invitations')).text, 'dee@northwind.example', 'no longer pending');
});

test('inviting a role above your own, or into another workspace, is refused; other workspaces answer 404', async () => {
  const ada = await as('ada@northwind.example');
  await ada.get('/w/northwind/invitations');
  for (const role of ['owner', 'admin', 'staff', 'firm_admin']) {
    const res = await ada.postForm('/w/northwind/invitations', { email: 'x@northwind.example', role });
    assert.is(res.status, 400, role);
    assert.match(res.text, 'id="role-error"');
  }
  assert.is(await outboxCount('x@northwind.example'), 0);
  assert.is((await ada.get('/w/globex/invitations')).status, 404);
  assert.is((await ada.postForm('/w/globex/invitations', { email: 'x@globex.example', role: 'client_viewer' })).status, 404);
  // A Globex invitation cannot be touched through Northwind, even by the owner.
  const owner = await asOwner();
  await owner.get('/w/globex/invitations');
  await owner.postForm('/w/globex/invitations', { email: 'gus@globex.example', role: 'client_member' });
  const globexInvite = await app.kernel.db('invitations').where({ email: 'gus@globex.example' }).first();
  await ada.get('/w/northwind/invitations');
  assert.is((await ada.postForm(`/w/northwind/invitations/${globexInvite.id}/revoke`, {})).status, 404);
  assert.is((await ada.postForm(`/w/northwind/invitations/${globexInvite.id}/resend`, {})).status, 404);
  owner.csrf = undefined;
  await owner.get('/staff/');
  assert.is((await owner.postForm(`/w/northwind/invitations/${globexInvite.id}/revoke`, {})).status, 404);
  assert.is((await app.kernel.db('invitations').where({ id: globexInvite.id }).first()).revoked_at, null);
  // Viewers cannot see or send invitations.
  const ben = await as('ben@northwind.example');
  assert.is((await ben.get('/w/northwind/invitations')).status, 404);
  assert.is((await ben.postForm('/w/northwind/invitations', { email: 'y@northwind.example', role: 'client_viewer' })).status, 404);
});

test('an existing account joins by signing in first; a different signed-in account is refused', async () => {
  const ada = await as('ada@northwind.example');
  await ada.get('/w/northwind/invitations');
  await ada.postForm('/w/northwind/invitations', { email: 'cara@globex.example', role: 'client_member' });
  const link = await inviteLink('cara@globex.example');
  const anon = app.client();
  const page = await anon.get(link);
  assert.match(page.text, 'Sign in to accept');
  assert.not.match(page.text, 'name="password"', 'no account-creation form for an existing account');
  assert.is((await anon.postForm(link, { name: 'Cara Again', password: PW, confirm: PW })).status, 409);
  const wrong = await as('ben@northwind.example');
  assert.is((await wrong.get(link)).status, 403);
  assert.is((await wrong.postForm(link, {})).status, 403);
  const cara = await as('cara@globex.example');
  const mine = await cara.get(link);
  assert.match(mine.text, 'Join Northwind Traders');
  const joined = await cara.postForm(link, { role: 'client_admin' });
  assert.is(joined.status, 303);
  const caraId = (await app.kernel.db('users').where({ email: 'cara@globex.example' }).first()).id;
  const roles = await app.kernel.db('memberships as m').join('workspaces as w', 'w.id', 'm.workspace_id').where('m.user_id', caraId).orderBy('w.slug').select('w.slug', 'm.role');
  assert.equal(roles, [{ slug: 'globex', role: 'client_admin' }, { slug: 'northwind', role: 'client_member' }]);
});

test('resend replaces the link; revoke and 7 days kill it', async () => {
  await app.kernel.db('throttle').delete();
  const owner = await asOwner();
  await owner.get('/w/northwind/invitations');
  await owner.postForm('/w/northwind/invitations', { email: 'fay@northwind.example', role: 'client_member' });
  const first = await inviteLink('fay@northwind.example');
  const inv = await app.kernel.db('invitations').where({ email: 'fay@northwind.example' }).first();
  await owner.postForm(`/w/northwind/invitations/${inv.id}/resend`, {});
  const second = await inviteLink('fay@northwind.example');
  assert.is.not(first, second);
  const c = app.client();
  assert.is((await c.get(first)).status, 410, 'the resent invitation voids the old link');
  assert.is((await c.get(second)).status, 200);
  await owner.postForm(`/w/northwind/invitations/${inv.id}/revoke`, {});
  assert.is((await c.get(second)).status, 410, 'revoked');
  await owner.postForm('/w/northwind/invitations', { email: 'gil@northwind.example', role: 'client_member' });
  const third = await inviteLink('gil@northwind.example');
  clock.advance(7 * 24 * 3_600_000 + 60_000);
  assert.is((await c.get(third)).status, 410, 'expired after 7 days');
});

test('invitation requests are throttled per email (3/h) with the same reply and no mail', async () => {
  await app.kernel.db('throttle').delete();
  const owner = await asOwner();
  const flashes: string[] = [];
  for (let i = 0; i < 4; i++) {
    await owner.get('/w/northwind/invitations');
    const res = await owner.postForm('/w/northwind/invitations', { email: 'hal@northwind.example', role: 'client_viewer' });
    assert.is(res.status, 303);
    owner.csrf = undefined;
    const page = await owner.get('/w/northwind/invitations');
    flashes.push(/role="status">([^<]+)</.exec(page.text)?.[1] ?? '');
  }
  assert.is(new Set(flashes).size, 1, `same reply: ${flashes.join(' | ')}`);
  assert.is(await outboxCount('hal@northwind.example'), 3);
});

test('a workspace that requires MFA sends a new member straight to enrolment', async () => {
  await app.kernel.db('throttle').delete();
  const owner = await asOwner();
  await owner.get('/admin/security');
  await owner.postForm('/admin/security/workspaces/globex', { requireMfa: 'yes' });
  await owner.get('/w/globex/invitations');
  await owner.postForm('/w/globex/invitations', { email: 'ivy@globex.example', role: 'client_member' });
  const link = await inviteLink('ivy@globex.example');
  const ivy = app.client();
  await ivy.get(link);
  const res = await ivy.postForm(link, { name: 'Ivy Client', password: PW, confirm: PW });
  assert.is(res.location, '/login/mfa');
  assert.is((await ivy.get('/w/globex/')).location, '/login/mfa');
  assert.is((await ivy.get('/login/mfa')).location, '/login/mfa/setup');
});

test('inviting an existing member or a firm staff address is refused beside the email field: nothing saved, no mail', async () => {
  await app.kernel.db('throttle').delete();
  const ada = await as('ada@northwind.example');
  const owner = await asOwner();
  for (const [who, c] of [['client admin', ada], ['owner', owner]] as const) {
    for (const [email, says] of [
      ['ben@northwind.example', 'is already a member of this workspace'],
      ['BEN@northwind.example', 'is already a member of this workspace'],
      ['sam.staff@firm.example', 'belongs to someone at the firm'],
      ['owner@harbor.example', 'belongs to someone at the firm'],
    ]) {
      c.csrf = undefined;
      await c.get('/w/northwind/invitations');
      const res = await c.postForm('/w/northwind/invitations', { email, role: 'client_viewer' });
      assert.is(res.status, 400, `${who} inviting ${email}`);
      assert.match(res.text, 'id="email-error"');
      assert.match(res.text, says);
      assert.not.match(res.text, 'Invitation sent');
      assert.not.ok(await app.kernel.db('invitations').where({ email: email.toLowerCase() }).first(), `${who}: no invitation saved for ${email}`);
      assert.is(await outboxCount(email.toLowerCase()), 0, `${who}: no mail to ${email}`);
    }
  }
  // Someone with an account in another workspace is invited as before (they sign in to accept).
  ada.csrf = undefined;
  await ada.get('/w/northwind/invitations');
  assert.is((await ada.postForm('/w/northwind/invitations', { email: 'ivy@globex.example', role: 'client_viewer' })).status, 303);
});

test('firm staff cannot join a client workspace through an invitation', async () => {
  await app.kernel.db('throttle').delete();
  // The form refuses to invite them (above); an invitation made before they joined the firm
  // still cannot be accepted.
  const { newToken, sha256Hex, newId } = await import('../../core/ids.ts');
  const token = newToken();
  const ws = await app.kernel.db('workspaces').where({ slug: 'northwind' }).first();
  const now = app.kernel.clock.now();
  await app.kernel.db('invitations').insert({ id: newId(), token_hash: sha256Hex(token), workspace_id: ws.id, email: 'sam.staff@firm.example', role: 'client_admin', invited_by: null, created_at: now, expires_at: now + 86_400_000, last_sent_at: now, send_count: 1 });
  const link = `/invite/${token}`;
  const sam = await as('sam.staff@firm.example');
  await sam.get(link);
  assert.is((await sam.postForm(link, {})).status, 409);
  const samId = (await app.kernel.db('users').where({ email: 'sam.staff@firm.example' }).first()).id;
  assert.is((await app.kernel.db('memberships').where({ user_id: samId, workspace_id: ws.id }).first()).role, 'staff');
});

test.run();
