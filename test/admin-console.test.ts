// Admin console: workspaces (rename, archive) and roles (effective permissions, custom roles).
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, FIXTURE, type TestApp } from './helpers/app.ts';
import { seedDemo } from '../core/demo.ts';
import { transaction } from '../core/db/index.ts';
import { addMember, createUser } from '../core/identity/users.ts';
import { newId } from '../core/ids.ts';
import type { HttpClient } from './helpers/http.ts';

const test = suite('admin console');
const PW = 'demo-password-for-tests';
let app: TestApp;
let owner: HttpClient;
let northwindId: string;

test.before(async () => {
  app = await startApp({ plugins: ['team', FIXTURE] });
  owner = (await setupOwner(app)).client;
  await seedDemo(app.kernel, { actorId: null }, PW);
  northwindId = (await app.kernel.db('workspaces').where({ slug: 'northwind' }).first('id')).id;
  await app.kernel.db('fixture_notes').insert([
    { id: newId(), workspace_id: northwindId, body: 'Shared with Northwind', area: 'shared', created_at: 1 },
    { id: newId(), workspace_id: northwindId, body: 'Internal staff memo', area: 'internal', created_at: 2 },
  ]);
});
test.after(async () => {
  await app.close();
});

test('workspaces: list, rename (with the error beside the field), audited', async () => {
  const list = await owner.get('/admin/workspaces');
  assert.is(list.status, 200);
  assert.match(list.text, 'Northwind Traders');
  const bad = await owner.postForm(`/admin/workspaces/${northwindId}`, { name: '  ' });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'id="name-error"');
  const ok = await owner.postForm(`/admin/workspaces/${northwindId}`, { name: 'Northwind Trading Co' });
  assert.is(ok.status, 303);
  assert.is((await app.kernel.db('workspaces').where({ id: northwindId }).first()).name, 'Northwind Trading Co');
  const audit = await app.kernel.db('audit_events').where({ action: 'core.workspace.rename' }).first();
  assert.match(audit.detail, 'Northwind Trading Co');
  assert.is((await owner.get(`/admin/workspaces/${newId()}`)).status, 404);
});

test('workspaces: archiving shuts its people out (404) until it is reopened', async () => {
  const client = app.client();
  await client.login('ada@northwind.example', PW);
  assert.is((await client.get('/w/northwind/')).status, 200);
  const page = await owner.get(`/admin/workspaces/${northwindId}`);
  // Archiving asks first: a ui/dialog whose panel holds the POST form and its confirm button.
  const dialog = /<details class="ui-dialog[^"]*" data-ui-dialog id="archive-workspace">[\s\S]*?<\/details>/.exec(page.text)?.[0] ?? '';
  assert.match(dialog, /<summary class="button button-danger">.*Archive this workspace<\/summary>/, 'archiving asks first');
  assert.match(dialog, `<form method="post" action="/admin/workspaces/${northwindId}/archive">`);
  assert.match(dialog, '<button type="submit" class="button button-danger">Archive workspace</button>');
  assert.not.match(page.text, 'data-confirm');
  assert.is((await owner.postForm(`/admin/workspaces/${northwindId}/archive`, {})).status, 303);
  assert.is((await client.get('/w/northwind/')).status, 404);
  assert.match((await client.get('/')).text, 'No workspace yet');
  assert.is((await owner.postForm(`/admin/workspaces/${northwindId}/unarchive`, {})).status, 303);
  assert.is((await client.get('/w/northwind/')).status, 200);
  const actions = await app.kernel.db('audit_events').whereIn('action', ['core.workspace.archive', 'core.workspace.unarchive']).pluck('action');
  assert.equal(actions.sort(), ['core.workspace.archive', 'core.workspace.unarchive']);
});

test("roles: each role's effective permissions, conditions spelled out", async () => {
  const page = await owner.get('/admin/roles');
  assert.is(page.status, 200);
  assert.match(page.text, 'Client member');
  assert.match(page.text, 'When area is shared');
  assert.match(page.text, 'Declared by');
  const frag = await owner.get('/admin/roles', { 'HX-Request': 'true' });
  assert.not.match(frag.text, '<html');
});

test('roles: a custom client role keeps the conditions of the grants it is made from', async () => {
  const bad = await owner.postForm('/admin/roles', { name: 'Sneaky', permissions: 'delete Note' });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'id="permissions-error"');
  const empty = await owner.postForm('/admin/roles', { name: 'Empty' });
  assert.is(empty.status, 400);
  const ok = await owner.postForm('/admin/roles', { name: 'Notes reader', permissions: 'read Note' });
  assert.is(ok.status, 303);
  const role = await app.kernel.db('roles').where({ key: 'custom-notes-reader' }).first();
  assert.ok(role);
  assert.ok(await app.kernel.db('audit_events').where({ action: 'core.role.create', subject_id: role.id }).first());

  const k = app.kernel;
  const hash = await k.passwords.hash('reader-password-123');
  await transaction(k.db, async (trx) => {
    const u = await createUser(k, trx, { email: 'rita@northwind.example', name: 'Rita Reader', passwordHash: hash, firmRole: null }, { actorId: null });
    await addMember(k, trx, { workspaceId: northwindId, userId: u.id, role: 'custom-notes-reader' as never }, { actorId: null });
  });
  const rita = app.client();
  await rita.login('rita@northwind.example', 'reader-password-123');
  const notes = await rita.get('/w/northwind/fixture/');
  assert.is(notes.status, 200);
  assert.match(notes.text, 'Shared with Northwind');
  assert.not.match(notes.text, 'Internal staff memo', 'the custom role inherits the shared-only condition');
  assert.not.match(notes.text, 'Add note', 'create was not granted');
  const post = await rita.postForm('/w/northwind/fixture/notes', { body: 'hi' });
  assert.is(post.status, 404);

  // Editing the role takes effect on the member's next request.
  const edit = await owner.postForm(`/admin/roles/${role.id}`, { name: 'Notes reader', permissions: ['read Note', 'create Note'] });
  assert.is(edit.status, 303);
  assert.match((await rita.get('/w/northwind/fixture/')).text, 'Add note');
});

test('roles and workspaces admin pages are 404 for staff and clients', async () => {
  const staff = app.client();
  await staff.login('sam.staff@firm.example', PW);
  for (const path of ['/admin/roles', '/admin/roles/new', '/admin/workspaces', `/admin/workspaces/${northwindId}`]) assert.is((await staff.get(path)).status, 404, path);
  await staff.get('/staff/');
  assert.is((await staff.postForm(`/admin/workspaces/${northwindId}/archive`, {})).status, 404);
});

test.run();
