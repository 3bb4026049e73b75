// Messaging, end to end over HTTP: a client writes in the general thread, the firm answers, an
// internal note stays with the firm (page, fragment, search, export, unread count), attachments
// go through the upload checks, edits keep their history for staff, removal leaves a tombstone.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { messagingWorld, threadIdIn, type World } from './helpers.ts';
import { upload, download, PNG } from '../files/helpers.ts';

const test = suite('messaging: threads, internal notes, attachments, edits');
let w: World;
let threadId = '';
const B = () => `/w/${w.ws.slug}/messaging`;

test.before(async () => {
  w = await messagingWorld();
});
test.after(async () => {
  await w?.app.close();
});

test('a client writes in the general thread; the list and the menu count show it to the firm', async () => {
  const empty = await w.as.admin.get(`${B()}/`);
  assert.is(empty.status, 200);
  assert.match(empty.text, 'General');
  await w.as.admin.get(`${B()}/general`);
  const res = await w.as.admin.postForm(`${B()}/general`, { body: 'Hello team, **where** is the Q3 report?' });
  assert.is(res.status, 303, res.text.slice(0, 400));
  threadId = threadIdIn(res.location)!;
  assert.ok(threadId, `redirected to the thread: ${res.location}`);
  const unread = await w.as.staff.get(`${B()}/unread`);
  assert.match(unread.text, '>1<');
  const page = await w.as.staff.get(`${B()}/t/${threadId}`);
  assert.is(page.status, 200);
  assert.match(page.text, '<strong>where</strong>');
  assert.match(page.text, 'Admin Person');
  // Opening the thread reads it.
  assert.is((await w.as.staff.get(`${B()}/unread`)).text, '');
});

test('opening a thread again with nothing new writes nothing; the read mark never moves back', async () => {
  await w.as.staff.get(`${B()}/t/${threadId}`);
  const writes: string[] = [];
  const spy = (q: { sql: string }) => (/messaging_reads/.test(q.sql) && /^\s*(insert|update)/i.test(q.sql) ? writes.push(q.sql) : undefined);
  w.app.kernel.db.on('query', spy);
  try {
    assert.is((await w.as.staff.get(`${B()}/t/${threadId}`)).status, 200);
    assert.is((await w.as.staff.get(`${B()}/t/${threadId}/messages`, { 'HX-Request': 'true' })).status, 200);
  } finally {
    w.app.kernel.db.removeListener('query', spy);
  }
  assert.is(writes.length, 1, `only the live fetch's conditional upsert: ${writes.join(' | ')}`);
  const before = await w.app.kernel.db('messaging_reads').where({ thread_id: threadId, user_id: w.users.staff }).first('read_through');
  const { markRead } = await import('../../../plugins/messaging/service.ts');
  await markRead(w.app.kernel.db, w.ws.id, threadId, w.users.staff, 1, Date.now());
  const after = await w.app.kernel.db('messaging_reads').where({ thread_id: threadId, user_id: w.users.staff }).first('read_through');
  assert.is(Number(after.read_through), Number(before.read_through), 'an older mark does not move it back');
});

test('the firm answers; an internal note never reaches a client', async () => {
  await w.as.staff.postForm(`${B()}/t/${threadId}`, { body: 'It is in the Reports folder.' });
  const note = await w.as.staff.postForm(`${B()}/t/${threadId}`, { body: 'INTERNALCANARY client is late paying', internal: 'yes' });
  assert.is(note.status, 303);
  for (const who of ['admin', 'member', 'viewer'] as const) {
    const c = w.as[who];
    const page = await c.get(`${B()}/t/${threadId}`);
    assert.is(page.status, 200);
    assert.match(page.text, 'Reports folder');
    assert.not.match(page.text, 'INTERNALCANARY', `${who}: page`);
    const frag = await c.get(`${B()}/t/${threadId}/messages`, { 'HX-Request': 'true' });
    assert.not.match(frag.text, 'INTERNALCANARY', `${who}: fragment`);
    const found = await c.get(`${B()}/search?q=INTERNALCANARY`);
    assert.is(found.status, 200);
    assert.not.match(found.text, 'client is late', `${who}: search`);
    const exp = await c.get(`${B()}/t/${threadId}/export`);
    assert.is(exp.status, 200);
    assert.not.match(exp.text, 'INTERNALCANARY', `${who}: export`);
    assert.match(exp.text, 'Reports folder');
  }
  // Staff see it, marked, and find it.
  const staffPage = await w.as.staff.get(`${B()}/t/${threadId}`);
  assert.match(staffPage.text, 'INTERNALCANARY');
  assert.match(staffPage.text, 'Internal note');
  assert.match((await w.as.staff.get(`${B()}/search?q=internalcanary`)).text, 'client is late');
  // A client may not post an internal note.
  const forged = await w.as.admin.postForm(`${B()}/t/${threadId}`, { body: 'pretend', internal: 'yes' });
  assert.is(forged.status, 404);
  // The note is not counted for a client: only the firm's public answer is new for the member.
  assert.match((await w.as.member2.get(`${B()}/unread`)).text, '>2<', 'the client question and the firm answer');
});

test('attachments pass the upload checks and are downloadable by whoever reads the thread', async () => {
  await w.as.admin.get(`${B()}/t/${threadId}`);
  const bad = await upload(w.as.admin, `${B()}/t/${threadId}`, [{ name: 'evil.png', data: 'not a png at all' }], { body: 'See attached' });
  assert.is(bad.status, 200, 'htmx gets the form again');
  assert.match(bad.text, 'evil.png');
  assert.is((await w.app.kernel.db('messaging_messages').where({ body: 'See attached' })).length, 0, 'nothing posted');
  assert.is((await w.app.kernel.db('messaging_attachments').where({ name: 'evil.png' })).length, 0);
  const ok = await upload(w.as.admin, `${B()}/t/${threadId}`, [{ name: 'logo.png', data: PNG }], { body: 'Our logo' });
  assert.is(ok.status, 200, ok.text.slice(0, 300));
  const att = await w.app.kernel.db('messaging_attachments').where({ workspace_id: w.ws.id, name: 'logo.png' }).first('id');
  assert.ok(att, 'the attachment is recorded');
  for (const who of ['staff', 'viewer'] as const) {
    const d = await download(w.as[who], `${B()}/a/${att.id}`);
    assert.is(d.status, 200, who);
    assert.equal(Buffer.compare(d.body, PNG), 0);
    assert.match(d.headers.get('content-disposition') ?? '', 'logo.png');
  }
});

test('an author edits within the window (history for staff only) and removes as a tombstone', async () => {
  const res = await w.as.member.postForm(`${B()}/t/${threadId}`, { body: 'Thanks, found it' });
  assert.is(res.status, 303);
  const m = await w.app.kernel.db('messaging_messages').where({ body: 'Thanks, found it' }).first('id');
  assert.is((await w.as.admin.get(`${B()}/m/${m.id}/edit`)).status, 404, 'not the author');
  assert.is((await w.as.member.postForm(`${B()}/m/${m.id}/edit`, { body: 'Thanks, found it!' })).status, 303);
  const staffView = await w.as.staff.get(`${B()}/t/${threadId}`);
  assert.match(staffView.text, '(edited)');
  const hist = await w.as.staff.get(`${B()}/m/${m.id}/history`);
  assert.is(hist.status, 200);
  assert.match(hist.text, 'Thanks, found it');
  assert.is((await w.as.admin.get(`${B()}/m/${m.id}/history`)).status, 404, 'clients do not see earlier versions');
  (w.clock as { advance(ms: number): void }).advance(6 * 60_000);
  const late = await w.as.member.postForm(`${B()}/m/${m.id}/edit`, { body: 'changed later' });
  assert.is(late.status, 303);
  assert.is((await w.app.kernel.db('messaging_messages').where({ id: m.id }).first('body')).body, 'Thanks, found it!', 'too late: unchanged');
  assert.is((await w.as.member.postForm(`${B()}/m/${m.id}/delete`, {})).status, 303);
  const after = await w.as.admin.get(`${B()}/t/${threadId}`);
  assert.match(after.text, 'Message removed.');
  assert.not.match(after.text, 'found it!');
  const audit = await w.app.kernel.db('audit_events').where({ action: 'messaging.message.remove', subject_id: m.id }).first('id');
  assert.ok(audit, 'removal audited');
});

test('a thread with a subject line; another workspace and unknown ids get 404', async () => {
  await w.as.member.get(`${B()}/new`);
  const res = await w.as.member.postForm(`${B()}/new`, { title: 'Website launch', body: 'When do we go live?' });
  assert.is(res.status, 303, res.text.slice(0, 300));
  const bad = await w.as.member.postForm(`${B()}/new`, { title: 'two\nlines', body: '' });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'Write a message');
  const list = await w.as.viewer.get(`${B()}/`);
  assert.match(list.text, 'Website launch');
  assert.is((await w.as.viewer.postForm(`${B()}/new`, { title: 'x', body: 'y' })).status, 404, 'a viewer only reads');
  assert.is((await w.as.admin.get(`${B()}/t/00000000-0000-7000-8000-000000000000`)).status, 404);
});

test('an @mention notifies that reader at once; a name outside the thread is just text', async () => {
  const res = await w.as.staff.postForm(`${B()}/t/${threadId}`, { body: 'Looping in @Member Person and @Nobody Here for the numbers.' });
  assert.is(res.status, 303);
  const notices = await w.app.kernel.db('notifications').where({ user_id: w.users.member, kind: 'messaging.mention' });
  assert.is(notices.length, 1, 'one notice to the member');
  assert.match(String(notices[0].subject), 'mentioned you');
  const page = await w.as.member.get(`${B()}/t/${threadId}`);
  assert.match(page.text, '<span class="mention">@Member Person</span>');
  assert.not.match(page.text, '<span class="mention">@Nobody');
  // An internal note cannot mention a client: they are not its readers.
  await w.as.staff.postForm(`${B()}/t/${threadId}`, { body: 'Note for @Viewer Person', internal: 'yes' });
  assert.is((await w.app.kernel.db('notifications').where({ user_id: w.users.viewer, kind: 'messaging.mention' })).length, 0);
});

test.run();
