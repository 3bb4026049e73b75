// Workspaces with demo data: who sees what. A client sees only their own workspace; anything
// else answers 404, the same as a page that does not exist.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, FIXTURE, type TestApp } from './helpers/app.ts';
import { seedDemo } from '../core/demo.ts';
import { fixtureState } from './fixtures/plugins/fixture/index.ts';

const test = suite('workspaces');
let app: TestApp;
const PW = 'demo-password-for-tests';

test.before(async () => {
  app = await startApp({ plugins: ['team', FIXTURE] });
  await setupOwner(app);
  const r = await seedDemo(app.kernel, { actorId: null, ip: null, userAgent: 'test', via: 'demo' }, PW);
  assert.ok(r.created);
});
test.after(async () => {
  await app.close();
});

test('demo seeding twice changes nothing', async () => {
  const before = await app.kernel.db('users').count({ n: '*' }).first();
  const r = await seedDemo(app.kernel, { actorId: null, ip: null, userAgent: 'test', via: 'demo' }, PW);
  assert.not.ok(r.created);
  assert.equal(await app.kernel.db('users').count({ n: '*' }).first(), before);
});

test('a client lands in their workspace and sees its name, the nav and the widgets they may see', async () => {
  const c = app.client();
  const login = await c.login('ada@northwind.example', PW);
  assert.is(login.status, 303);
  const home = await c.get('/');
  assert.is(home.location, '/w/northwind/');
  const page = await c.get('/w/northwind/');
  assert.is(page.status, 200);
  assert.match(page.text, 'Northwind Traders');
  assert.match(page.text, 'href="/w/northwind/fixture"', 'nav item from the fixture plugin');
  assert.match(page.text, 'href="/w/northwind/team"', 'nav item from the team plugin');
  assert.match(page.text, '0 notes in this workspace', 'fixture widget');
  assert.match(page.text, 'Sam Okafor', 'team widget lists the account team');
  assert.not.match(page.text, 'Globex', 'no trace of the other client');
  assert.not.match(page.text, 'href="/staff/"');
  assert.not.match(page.text, 'href="/admin/"');
});

test("a client gets 404 for another client's workspace, the staff area and the admin area", async () => {
  const c = app.client();
  await c.login('ada@northwind.example', PW);
  for (const path of ['/w/globex/', '/w/globex/fixture/', '/w/globex/team', '/w/no-such-ws/', '/staff/', '/admin/', '/admin/branding', '/staff/fixture/']) {
    const res = await c.get(path);
    assert.is(res.status, 404, path);
    assert.not.match(res.text, 'Globex Corporation', path);
  }
  // Unsafe methods too: a note posted to the other workspace is refused and nothing is written.
  await c.get('/w/northwind/');
  const post = await c.postForm('/w/globex/fixture/notes', { body: 'from ada' });
  assert.is(post.status, 404);
  assert.is(Number((await app.kernel.db('fixture_notes').count({ n: '*' }).first())!.n), 0);
});

test('htmx requests get the same 404 (fragments are authorised like pages)', async () => {
  const c = app.client();
  await c.login('ada@northwind.example', PW);
  const res = await c.get('/w/globex/fixture/', { 'HX-Request': 'true' });
  assert.is(res.status, 404);
  assert.not.match(res.text, '<html');
});

test('a viewer sees no Notes nav, no widget and gets 404 on the plugin page', async () => {
  const c = app.client();
  await c.login('ben@northwind.example', PW);
  const page = await c.get('/w/northwind/');
  assert.is(page.status, 200);
  assert.not.match(page.text, 'href="/w/northwind/fixture"');
  assert.not.match(page.text, 'notes in this workspace');
  assert.is((await c.get('/w/northwind/fixture/')).status, 404);
});

test('a client admin creates a note: audited in the same transaction, event after commit', async () => {
  fixtureState.notesCreated.length = 0;
  const c = app.client();
  await c.login('ada@northwind.example', PW);
  await c.get('/w/northwind/fixture/');
  const res = await c.postForm('/w/northwind/fixture/notes', { body: 'Please send the Q3 pack' });
  assert.is(res.status, 303);
  const note = await app.kernel.db('fixture_notes').first();
  assert.is(note.body, 'Please send the Q3 pack');
  const audit = await app.kernel.db('audit_events').where({ action: 'fixture.note.create' }).first();
  assert.is(audit.subject_id, note.id);
  assert.is(audit.workspace_id, note.workspace_id);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(fixtureState.notesCreated, [note.id]);
  const page = await c.get('/w/northwind/fixture/');
  assert.match(page.text, 'Please send the Q3 pack');
});

test('a change that fails after its insert rolls back the row, its audit event and its event', async () => {
  fixtureState.notesCreated.length = 0;
  const c = app.client();
  await c.login('ada@northwind.example', PW);
  await c.get('/w/northwind/fixture/');
  const auditBefore = Number((await app.kernel.db('audit_events').count({ n: '*' }).first())!.n);
  const res = await c.postForm('/w/northwind/fixture/notes', { body: 'doomed', fail: 'yes' });
  assert.is(res.status, 500);
  assert.not.match(res.text, 'failing on purpose', 'no error detail or stack reaches the page');
  assert.not.match(res.text, 'at ');
  assert.not.ok(await app.kernel.db('fixture_notes').where({ body: 'doomed' }).first());
  assert.is(Number((await app.kernel.db('audit_events').count({ n: '*' }).first())!.n), auditBefore);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(fixtureState.notesCreated, []);
});

test('invalid input comes back beside the field with 400 and nothing saved', async () => {
  const c = app.client();
  await c.login('ada@northwind.example', PW);
  await c.get('/w/northwind/fixture/');
  const res = await c.postForm('/w/northwind/fixture/notes', { body: '   ' });
  assert.is(res.status, 400);
  assert.match(res.text, 'id="body-error"');
  assert.match(res.text, 'Write something');
});

test('the login event reaches plugin subscribers', async () => {
  fixtureState.logins.length = 0;
  const c = app.client();
  await c.login('cara@globex.example', 'demo-password-for-tests');
  await new Promise((r) => setTimeout(r, 10));
  const cara = await app.kernel.db('users').where({ email: 'cara@globex.example' }).first();
  assert.equal(fixtureState.logins, [cara.id]);
});

test('staff see the workspaces they belong to on the overview; owners see all and can create', async () => {
  const staff = app.client();
  await staff.login('sam.staff@firm.example', PW);
  assert.is((await staff.get('/')).location, '/staff/');
  const overview = await staff.get('/staff/');
  assert.match(overview.text, 'Northwind Traders');
  assert.match(overview.text, 'Globex Corporation');
  assert.not.match(overview.text, 'New workspace');
  assert.is((await staff.get('/admin/')).status, 404);
  assert.is((await staff.get('/w/northwind/')).status, 200);
  assert.match((await staff.get('/staff/fixture/')).text, 'Staff queue');

  const owner = app.client();
  await owner.login('owner@harbor.example', 'correct-horse-battery-staple');
  const o = await owner.get('/staff/');
  assert.match(o.text, 'New workspace');
  const created = await owner.postForm('/admin/workspaces', { name: 'Initech', slug: '' });
  assert.is(created.location, '/w/initech/');
  assert.is((await staff.get('/w/initech/')).status, 404, 'staff not assigned to Initech');
  const dup = await owner.postForm('/admin/workspaces', { name: 'Initech Two', slug: 'initech' });
  assert.is(dup.status, 400);
  assert.match(dup.text, 'id="slug-error"');
});

test('a user in several workspaces gets a switcher listing only theirs', async () => {
  const staff = app.client();
  await staff.login('sam.staff@firm.example', PW);
  const page = await staff.get('/w/northwind/');
  assert.match(page.text, 'href="/w/globex/"');
  assert.not.match(page.text, 'href="/w/initech/"');
  const client = app.client();
  await client.login('ada@northwind.example', PW);
  assert.not.match((await client.get('/w/northwind/')).text, 'switch workspace');
});

test('the switcher stops at 50 and links staff to the full overview', async () => {
  const { createWorkspace } = await import('../core/identity/users.ts');
  const { transaction } = await import('../core/db/index.ts');
  await transaction(app.kernel.db, async (trx) => {
    for (let i = 0; i < 50; i++) await createWorkspace(app.kernel, trx, { name: `Bulk Client ${String(i).padStart(2, '0')}` }, { actorId: null });
  });
  const owner = app.client();
  await owner.login('owner@harbor.example', 'correct-horse-battery-staple');
  const page = await owner.get('/staff/');
  assert.match(page.text, 'All workspaces…');
  assert.is((page.text.match(/<li><a href="\/w\//g) ?? []).length, 50);
  assert.match(page.text, 'Page 1 of 3', 'the overview paginates 53 workspaces by 25');
  const p3 = await owner.get('/staff/?page=3');
  assert.match(p3.text, 'Page 3 of 3');
  assert.is((await owner.get('/staff/?page=abc')).status, 200);
});

test('the team page lists the account team and colleagues with allow-listed fields', async () => {
  const c = app.client();
  await c.login('ben@northwind.example', PW);
  const page = await c.get('/w/northwind/team');
  assert.is(page.status, 200);
  assert.match(page.text, 'Sam Okafor');
  assert.match(page.text, 'Ada Lindqvist');
  assert.not.match(page.text, 'Cara Mendes');
  assert.not.match(page.text, 'argon2');
});

test.run();
