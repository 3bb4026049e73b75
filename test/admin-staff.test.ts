// Staff run the firm from the UI (issue 14): an admin adds a colleague (a link to choose a
// password), changes firm roles, disables accounts — granting access only after confirming it is
// them — and assigns firm people to a client's workspace from its page; every change audited.
// Staff on a workspace read its activity page; the empty account team offers the action to
// those who can take it.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, DEMO_PASSWORD, type TestApp } from './helpers/app.ts';
import { ManualClock } from '../core/clock.ts';
import { seedDemo } from '../core/demo.ts';
import type { HttpClient } from './helpers/http.ts';
import { lastMailTo, linkIn, mailsTo, pathOf } from './identity/support.ts';

const test = suite('staff in the admin UI');
const clock = new ManualClock(Date.UTC(2026, 11, 1, 9, 0, 0));
const OWNER_PW = 'correct-horse-battery-staple';
const NEW_PW = 'a long walk by the harbour wall';
let app: TestApp;
let owner: HttpClient;

const db = () => app.kernel.db;
const userId = async (email: string) => String((await db()('users').where({ email }).first('id')).id);
const wsId = async (slug: string) => String((await db()('workspaces').where({ slug }).first('id')).id);

async function as(email: string, password = DEMO_PASSWORD): Promise<HttpClient> {
  const c = app.client();
  const res = await c.login(email, password);
  assert.is(res.status, 303, `${email} signs in`);
  await c.get('/account');
  return c;
}

/** GET a page (for its CSRF token) and post a form from it. */
async function submit(c: HttpClient, page: string, action: string, fields: Record<string, string>) {
  c.csrf = undefined;
  await c.get(page);
  return c.postForm(action, fields);
}

test.before(async () => {
  app = await startApp({ plugins: ['team'], clock });
  owner = (await setupOwner(app)).client;
  await seedDemo(app.kernel, { actorId: null }, DEMO_PASSWORD);
});
test.after(async () => {
  await app.close();
});

test("staff assigned to a workspace read its activity page (was 404), and see the workspace's events", async () => {
  const sam = await as('sam.staff@firm.example');
  const res = await sam.get('/w/northwind/audit');
  assert.is(res.status, 200);
  const created = await db()('audit_events').where({ action: 'core.workspace.create', workspace_id: await wsId('northwind') }).first('id');
  assert.match(res.text, `data-event="${created.id}"`);
});

test('an owner adds a colleague from the people page; they choose a password from the mail and sign in', async () => {
  const people = await owner.get('/admin/people');
  assert.match(people.text, 'href="/admin/people/new"');
  const form = await owner.get('/admin/people/new');
  assert.is(form.status, 200);
  assert.match(form.text, '<option value="owner"', 'an owner may add an owner');
  const res = await submit(owner, '/admin/people/new', '/admin/people', { name: 'Rosa Diaz', email: 'Rosa@Harbor.example', role: 'staff' });
  assert.is(res.status, 303);
  const rosa = await db()('users').where({ email: 'rosa@harbor.example' }).first();
  assert.ok(rosa, 'the account exists, email case-folded');
  assert.is(rosa.firm_role, 'staff');
  assert.is(res.location, `/admin/people/${rosa.id}`);
  const page = await owner.get(res.location!);
  assert.match(page.text, 'Rosa Diaz was added as staff');
  assert.match(page.text, 'has not chosen a password yet');
  for (const action of ['core.user.create', 'core.staff.invite']) assert.ok(await db()('audit_events').where({ action, subject_id: rosa.id }).first(), action);

  // No password yet: signing in fails like any wrong password.
  assert.is((await app.client().login('rosa@harbor.example', '')).status, 400);
  const mail = await lastMailTo(app, 'rosa@harbor.example');
  assert.match(mail.text, 'Olivia Owner added you to Harbor & Vale LLP’s client portal, as staff.');
  const link = pathOf(linkIn(mail.text, '/password/reset/'));
  const c = app.client();
  const choose = await c.get(link);
  assert.is(choose.status, 200);
  assert.match(choose.text, 'Choose your password');
  assert.is((await c.postForm(link, { password: NEW_PW, confirm: NEW_PW })).status, 303);
  assert.equal((await mailsTo(app, 'rosa@harbor.example')).map((m) => m.subject).filter((s) => /changed/.test(s)), [], 'a first password is not "changed"');
  const signedIn = await as('rosa@harbor.example', NEW_PW);
  assert.is((await signedIn.get('/staff/')).status, 200);
  assert.is((await signedIn.get('/admin/people')).status, 404, 'staff are not admins');
  assert.is((await c.get(link)).status, 410, 'the link works once');
});

test('adding a colleague refuses a client address, a firm address and a role above your own, beside the field, saving nothing', async () => {
  const before = Number(((await db()('users').count({ n: '*' }).first()) as { n: number | string }).n);
  for (const [fields, field, says] of [
    [{ name: 'Ada', email: 'ada@northwind.example', role: 'staff' }, 'email', 'belongs to a client'],
    [{ name: 'Sam', email: 'sam.staff@firm.example', role: 'admin' }, 'email', 'already someone at the firm'],
    [{ name: '', email: 'x@harbor.example', role: 'staff' }, 'name', ''],
    [{ name: 'X', email: 'not an email', role: 'staff' }, 'email', ''],
    [{ name: 'X', email: 'x@harbor.example', role: 'client_admin' }, 'role', ''],
  ] as const) {
    const res = await submit(owner, '/admin/people/new', '/admin/people', fields);
    assert.is(res.status, 400, JSON.stringify(fields));
    assert.match(res.text, `id="${field}-error"`);
    if (says) assert.match(res.text, says);
  }
  assert.is(Number(((await db()('users').count({ n: '*' }).first()) as { n: number | string }).n), before);
  assert.is((await db()('users').where({ email: 'ada@northwind.example' }).first()).firm_role, null, "the client's account is untouched");
  // A firm admin may add staff and admins, not owners.
  await submit(owner, '/admin/people', '/admin/people/' + (await userId('sam.staff@firm.example')) + '/role', { role: 'admin' });
  const sam = await as('sam.staff@firm.example');
  const form = await sam.get('/admin/people/new');
  assert.is(form.status, 200);
  assert.not.match(form.text, '<option value="owner"');
  const res = await submit(sam, '/admin/people/new', '/admin/people', { name: 'Mallory', email: 'mallory@harbor.example', role: 'owner' });
  assert.is(res.status, 400);
  assert.match(res.text, 'id="role-error"');
  assert.not.ok(await db()('users').where({ email: 'mallory@harbor.example' }).first());
  await submit(owner, '/admin/people', '/admin/people/' + (await userId('sam.staff@firm.example')) + '/role', { role: 'staff' });
});

test('role changes: audited, mailed, lowering one signs them out; nobody changes their own or (unless owner) an owner', async () => {
  const samId = await userId('sam.staff@firm.example');
  const sam = await as('sam.staff@firm.example');
  const page = await owner.get(`/admin/people/${samId}`);
  assert.match(page.text, 'action="/admin/people/' + samId + '/role"');
  assert.match(page.text, '<option value="staff" selected>Staff</option>');
  assert.is((await submit(owner, `/admin/people/${samId}`, `/admin/people/${samId}/role`, { role: 'admin' })).status, 303);
  assert.is((await db()('users').where({ id: samId }).first()).firm_role, 'admin');
  const up = await db()('audit_events').where({ action: 'core.user.role_change', subject_id: samId }).orderBy('seq', 'desc').first();
  assert.match(String(up.detail), '"to":"admin"');
  assert.is((await lastMailTo(app, 'sam.staff@firm.example')).subject, 'Your role at the firm changed');
  assert.is((await sam.get('/admin/people')).status, 200, 'a promotion applies at once, still signed in');
  assert.is((await submit(owner, `/admin/people/${samId}`, `/admin/people/${samId}/role`, { role: 'staff' })).status, 303);
  assert.is((await sam.get('/staff/')).status, 302, 'lowering the role ended their sessions');

  const ownerId = await userId('owner@harbor.example');
  assert.is((await submit(owner, `/admin/people/${ownerId}`, `/admin/people/${ownerId}/role`, { role: 'staff' })).status, 403, 'not your own');
  await submit(owner, `/admin/people/${samId}`, `/admin/people/${samId}/role`, { role: 'admin' });
  const samAdmin = await as('sam.staff@firm.example');
  const ownerPage = await samAdmin.get(`/admin/people/${ownerId}`);
  assert.not.match(ownerPage.text, '/role"', 'an admin gets no role form for an owner');
  await submit(samAdmin, `/admin/people/${ownerId}`, `/admin/people/${ownerId}/role`, { role: 'staff' });
  assert.is((await db()('users').where({ id: ownerId }).first()).firm_role, 'owner');
  await submit(owner, `/admin/people/${samId}`, `/admin/people/${samId}/role`, { role: 'staff' });
  assert.is((await db()('users').where({ id: samId }).first()).firm_role, 'staff');
});

test('granting access, a role change and disabling need a password from the last 15 minutes', async () => {
  const stale = await as('owner@harbor.example', OWNER_PW);
  clock.advance(16 * 60_000);
  const samId = await userId('sam.staff@firm.example');
  const newForm = await stale.get('/admin/people/new');
  assert.is(newForm.status, 302);
  assert.is(newForm.location, `/account/reauth?next=${encodeURIComponent('/admin/people/new')}`);
  const page = await stale.get(`/admin/people/${samId}`);
  assert.match(page.text, 'Confirm it is you');
  assert.not.match(page.text, `action="/admin/people/${samId}/role"`);
  assert.not.match(page.text, `action="/admin/people/${samId}/disable"`);
  for (const [action, fields] of [
    ['/admin/people', { name: 'Late', email: 'late@harbor.example', role: 'staff' }],
    [`/admin/people/${samId}/role`, { role: 'admin' }],
    [`/admin/people/${samId}/disable`, {}],
  ] as const) {
    assert.is((await stale.postForm(action, fields)).status, 403, action);
  }
  assert.is((await db()('users').where({ id: samId }).first()).firm_role, 'staff');
  assert.is((await db()('users').where({ id: samId }).first()).disabled ? 1 : 0, 0);
  stale.csrf = undefined;
  await stale.get('/account/reauth');
  const re = await stale.postForm('/account/reauth', { password: OWNER_PW, next: `/admin/people/${samId}` });
  assert.is(re.location, `/admin/people/${samId}`);
  stale.csrf = undefined;
  const fresh = await stale.get(`/admin/people/${samId}`);
  assert.match(fresh.text, `action="/admin/people/${samId}/disable"`);
  assert.is((await stale.postForm(`/admin/people/${samId}/disable`, {})).status, 303);
  assert.ok(await db()('audit_events').where({ action: 'core.user.disable', subject_id: samId }).first());
  stale.csrf = undefined;
  await stale.get(`/admin/people/${samId}`);
  assert.is((await stale.postForm(`/admin/people/${samId}/enable`, {})).status, 303);
  owner = stale;
});

test("a workspace's page assigns and unassigns firm people; assigned staff open it and read its activity", async () => {
  const globex = await wsId('globex');
  const rosaId = await userId('rosa@harbor.example');
  const rosa = await as('rosa@harbor.example', NEW_PW);
  assert.is((await rosa.get('/w/globex/')).status, 404, 'not assigned yet');
  const page = await owner.get(`/admin/workspaces/${globex}`);
  assert.match(page.text, 'id="team"');
  assert.match(page.text, 'Sam Okafor', 'the current account team');
  assert.match(page.text, `<option value="${rosaId}">Rosa Diaz`);
  const res = await submit(owner, `/admin/workspaces/${globex}`, `/admin/workspaces/${globex}/team`, { userId: rosaId });
  assert.is(res.status, 303);
  assert.is(res.location, `/admin/workspaces/${globex}#team`);
  const m = await db()('memberships').where({ workspace_id: globex, user_id: rosaId }).first();
  assert.is(m.role, 'staff');
  assert.ok(await db()('audit_events').where({ action: 'core.membership.create', subject_id: m.id, workspace_id: globex }).first(), 'audited');
  assert.match((await owner.get(`/admin/workspaces/${globex}`)).text, `/team/${m.id}/remove"`);
  // Twice, a client, or nobody: refused, nothing added.
  for (const id of [rosaId, await userId('cara@globex.example'), '00000000-0000-7000-8000-000000000000']) {
    assert.is((await submit(owner, `/admin/workspaces/${globex}`, `/admin/workspaces/${globex}/team`, { userId: id })).status, 303);
  }
  assert.is(Number(((await db()('memberships').where({ workspace_id: globex, user_id: rosaId }).count({ n: '*' }).first()) as { n: number | string }).n), 1);

  // Assigned staff open the workspace and its activity page, and see the workspace's events.
  const rosa2 = await as('rosa@harbor.example', NEW_PW);
  assert.is((await rosa2.get('/w/globex/')).status, 200);
  const activity = await rosa2.get('/w/globex/audit');
  assert.is(activity.status, 200, 'staff on the workspace read its activity (was 404)');
  const created = await db()('audit_events').where({ action: 'core.workspace.create', workspace_id: globex }).first('id');
  assert.match(activity.text, `data-event="${created.id}"`);
  assert.match((await rosa2.get('/w/globex/')).text, 'href="/w/globex/audit"', 'Activity is in their workspace menu');
  assert.is((await rosa2.get('/w/northwind/audit')).status, 404, 'not on Northwind: 404');
  assert.is((await rosa2.get('/admin/audit')).status, 404, 'the firm-wide log stays with admins');

  // Unassign: audited, and the workspace is closed to them again.
  assert.is((await submit(owner, `/admin/workspaces/${globex}`, `/admin/workspaces/${globex}/team/${m.id}/remove`, {})).status, 303);
  assert.not.ok(await db()('memberships').where({ id: m.id }).first());
  assert.ok(await db()('audit_events').where({ action: 'core.membership.remove', subject_id: m.id }).first());
  const rosa3 = await as('rosa@harbor.example', NEW_PW);
  assert.is((await rosa3.get('/w/globex/')).status, 404);
  // Only staff memberships are unassigned here: a client's membership id answers 404.
  const cara = await db()('memberships').where({ workspace_id: globex, user_id: await userId('cara@globex.example') }).first('id');
  assert.is((await submit(owner, `/admin/workspaces/${globex}`, `/admin/workspaces/${globex}/team/${cara.id}/remove`, {})).status, 404);
  assert.ok(await db()('memberships').where({ id: cara.id }).first());
});

test('a new workspace with nobody assigned: its team page and card offer "Assign someone" to those who can, and nothing to others', async () => {
  await submit(owner, '/admin/workspaces/new', '/admin/workspaces', { name: 'Acme Ltd', slug: 'acme' });
  const acme = await wsId('acme');
  for (const path of ['/w/acme/team', '/w/acme/']) {
    const ownerView = await owner.get(path);
    assert.match(ownerView.text, 'No one from the firm has been assigned', path);
    assert.match(ownerView.text, `href="/admin/workspaces/${acme}#team"`, path);
  }
  assert.is((await submit(owner, '/w/acme/invitations', '/w/acme/invitations', { email: 'wile@acme.example', role: 'client_admin' })).status, 303);
  const link = pathOf(linkIn((await lastMailTo(app, 'wile@acme.example')).text, '/invite/'));
  const wile = app.client();
  await wile.get(link);
  assert.is((await wile.postForm(link, { name: 'Wile Coyote', password: NEW_PW, confirm: NEW_PW })).status, 303);
  wile.csrf = undefined;
  for (const path of ['/w/acme/team', '/w/acme/']) {
    const clientView = await wile.get(path);
    assert.match(clientView.text, 'No one from the firm has been assigned', path);
    assert.not.match(clientView.text, '/admin/workspaces/', `${path}: no admin action for a client`);
  }
});

test.run();
