// The staff overview's "Recent activity" card: sentences across the workspaces the person works
// in, never another firm member's clients they are not assigned to, never anything a rule hides.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { transaction } from '../core/db/index.ts';
import { addMember, createUser, createWorkspace } from '../core/identity/users.ts';
import { newId } from '../core/ids.ts';
import { FIXTURE, setupOwner, startApp, type TestApp } from './helpers/app.ts';

const test = suite('activity feed');
let app: TestApp;
const PW = 'activity-feed-password';
const ids: Record<string, string> = {};

test.before(async () => {
  app = await startApp({ plugins: [FIXTURE] });
  await setupOwner(app);
  const k = app.kernel;
  const hash = await k.passwords.hash(PW);
  await transaction(k.db, async (trx) => {
    const mine = await createWorkspace(k, trx, { name: 'Mine Ltd', slug: 'mine' }, { actorId: null });
    const other = await createWorkspace(k, trx, { name: 'Other Ltd', slug: 'other' }, { actorId: null });
    const sam = await createUser(k, trx, { email: 'sam@firm.example', name: 'Sam Staff', passwordHash: hash, firmRole: 'staff' }, { actorId: null });
    const ada = await createUser(k, trx, { email: 'ada@mine.example', name: 'Ada Client', passwordHash: hash, firmRole: null }, { actorId: null });
    await addMember(k, trx, { workspaceId: mine.id, userId: sam.id, role: 'staff' }, { actorId: null });
    await addMember(k, trx, { workspaceId: mine.id, userId: ada.id, role: 'client_admin' }, { actorId: null });
    Object.assign(ids, { mine: mine.id, other: other.id, ada: ada.id });
  });
  const shared = newId();
  const otherNote = newId();
  await k.db('fixture_notes').insert([
    { id: shared, workspace_id: ids.mine, body: 'Kick-off notes', area: 'shared', created_at: 1 },
    { id: otherNote, workspace_id: ids.other, body: 'Not yours', area: 'shared', created_at: 1 },
  ]);
  await transaction(k.db, async (trx) => {
    await k.audit.record(trx, { actorId: ids.ada, workspaceId: ids.mine, action: 'fixture.note.create', subjectType: 'Note', subjectId: shared });
    await k.audit.record(trx, { actorId: ids.ada, workspaceId: ids.other, action: 'fixture.note.create', subjectType: 'Note', subjectId: otherNote });
    await k.audit.record(trx, { actorId: ids.ada, workspaceId: ids.mine, action: 'fixture.secret.peek', subjectType: 'Undeclared', subjectId: shared });
  });
});
test.after(async () => {
  await app.close();
});

test('staff see sentences from their own clients only, linked to the workspace, with relative times', async () => {
  const sam = app.client();
  assert.is((await sam.login('sam@firm.example', PW)).status, 303);
  const page = await sam.get('/staff/');
  assert.is(page.status, 200);
  const card = page.text.slice(page.text.indexOf('Recent activity'));
  assert.match(card, /<strong>Ada Client<\/strong> wrote <a href="\/w\/mine\/fixture\/notes\/[^"]+">Kick-off notes<\/a>/);
  assert.match(card, '<a href="/w/mine/audit">Mine Ltd</a>');
  assert.match(card, /<time datetime="[^"]+" title="[^"]+">(just now|\d+ (minute|hour)s? ago)<\/time>/);
  assert.not.match(card, 'Other Ltd', 'a workspace Sam is not assigned to');
  assert.not.match(card, 'peeked', 'an event whose subject type has no audit rule');
  assert.not.match(card, 'fixture.note.create');
});

test('an event with no person behind it (a job, the CLI) reads as done by the firm, never "Someone"', async () => {
  const k = app.kernel;
  const note = newId();
  await k.db('fixture_notes').insert({ id: note, workspace_id: ids.mine, body: 'Filed by the nightly job', area: 'shared', created_at: 2 });
  await transaction(k.db, (trx) => k.audit.record(trx, { actorId: null, workspaceId: ids.mine, action: 'fixture.note.create', subjectType: 'Note', subjectId: note }));
  const ada = app.client();
  assert.is((await ada.login('ada@mine.example', PW)).status, 303);
  const page = await ada.get('/w/mine/audit');
  assert.match(page.text, /<strong>Harbor &amp; Vale LLP<\/strong> wrote <a href="\/w\/mine\/fixture\/notes\/[^"]+">Filed by the nightly job<\/a>/);
  assert.not.match(page.text, 'Someone');
});

test('the owner sees every workspace’s activity', async () => {
  const owner = app.client();
  assert.is((await owner.login('owner@harbor.example', 'correct-horse-battery-staple')).status, 303);
  const page = await owner.get('/staff/');
  assert.match(page.text, '<a href="/w/other/audit">Other Ltd</a>');
});

test.run();
