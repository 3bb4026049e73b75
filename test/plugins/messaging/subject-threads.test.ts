// A file's discussion (the kernel's subject threads, provided by messaging): on a shared file a
// client sees the discussion panel on the file's page, reads its fragment and posts in it; on an
// internal file a client gets 404 for the fragment and the post (nothing is posted), and its
// thread never shows in their list, search, unread count, thread page or export.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { messagingWorld, type World } from './helpers.ts';
import { uploadFile } from '../approvals/helpers.ts';

const test = suite('messaging: discussions on files');
let w: World;
const B = () => `/w/${w.ws.slug}/messaging`;
const CLIENTS = ['admin', 'member', 'member2', 'viewer'] as const;

test.before(async () => {
  w = await messagingWorld();
});
test.after(async () => {
  await w?.app.close();
});

test('a shared file: the page shows the discussion panel; a client reads it and posts in it', async () => {
  const fileId = await uploadFile(w, 'design.pdf.txt', 'the design');
  const on = `${B()}/on/File/${fileId}`;
  const staffPage = await w.as.staff.get(`/w/${w.ws.slug}/files/f/${fileId}`);
  assert.match(staffPage.text, `hx-get="${on}"`, 'staff: the panel loads the discussion');
  for (const who of CLIENTS) {
    assert.is((await w.as[who].get(`/w/${w.ws.slug}/files/f/${fileId}`)).status, 200, who);
    const frag = await w.as[who].get(on, { 'HX-Request': 'true' });
    assert.is(frag.status, 200, who);
    assert.match(frag.text, 'No one has written about this file yet.');
  }
  assert.not.match((await w.as.viewer.get(on, { 'HX-Request': 'true' })).text, '<textarea', 'a viewer reads, has no composer');
  assert.match((await w.as.member.get(on, { 'HX-Request': 'true' })).text, '<textarea');
  // From the file's page (htmx): the discussion again, in place, with the new message.
  await w.as.member.get(`/w/${w.ws.slug}/files/f/${fileId}`);
  const posted = await w.as.member.postForm(on, { body: 'Can the logo be bigger?' }, { headers: { 'HX-Request': 'true' } });
  assert.is(posted.status, 200, posted.text.slice(0, 300));
  assert.match(posted.text, 'Can the logo be bigger?');
  const t = await w.app.kernel.db('messaging_threads').where({ workspace_id: w.ws.id, key: `subject:File:${fileId}` }).first('id', 'kind', 'subject_type', 'subject_id', 'title');
  assert.equal({ kind: t.kind, subject_type: t.subject_type, subject_id: t.subject_id, title: t.title }, { kind: 'subject', subject_type: 'File', subject_id: fileId, title: 'design.pdf.txt' });
  // Without htmx: to the thread.
  const plain = await w.as.admin.postForm(on, { body: 'Agreed, and darker.' });
  assert.is(plain.status, 303);
  assert.match(plain.location ?? '', `${B()}/t/${t.id}`);
  for (const who of [...CLIENTS, 'staff'] as const) {
    const frag = await w.as[who].get(on, { 'HX-Request': 'true' });
    assert.match(frag.text, 'Can the logo be bigger?', who);
    assert.match(frag.text, 'Agreed, and darker.', who);
  }
  assert.match((await w.as.staff.get(`${B()}/`)).text, 'design.pdf.txt', 'in the list of conversations');
  assert.is((await w.as.viewer.postForm(on, { body: 'A viewer writes' })).status, 404, 'a viewer may not post');
});

test('a shared file: a client’s file page shows the discussion panel that loads it', async () => {
  const fileId = String((await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name: 'design.pdf.txt' }).first('id')).id);
  const on = `${B()}/on/File/${fileId}`;
  for (const who of CLIENTS) {
    const page = await w.as[who].get(`/w/${w.ws.slug}/files/f/${fileId}`);
    assert.is(page.status, 200, who);
    assert.match(page.text, 'class="subject-thread"', `${who}: the panel`);
    assert.match(page.text, `hx-get="${on}"`, `${who}: which loads the discussion`);
  }
});

test('an internal file: a client gets 404 for its discussion and its post, and never sees its thread anywhere', async () => {
  const fileId = await uploadFile(w, 'fees-internal.txt', 'our fees');
  await w.app.kernel.db('files_files').where({ id: fileId }).update({ area: 'internal' });
  const on = `${B()}/on/File/${fileId}`;
  const unreadBefore: Record<string, string> = {};
  for (const who of CLIENTS) unreadBefore[who] = (await w.as[who].get(`${B()}/unread`)).text;
  // The firm discusses it (a public message: only the subject keeps it from clients).
  const staffPage = await w.as.staff.get(`/w/${w.ws.slug}/files/f/${fileId}`);
  assert.match(staffPage.text, `hx-get="${on}"`);
  assert.is((await w.as.staff.postForm(on, { body: 'FEESCANARY raise them next year' })).status, 303);
  const t = await w.app.kernel.db('messaging_threads').where({ workspace_id: w.ws.id, key: `subject:File:${fileId}` }).first('id');
  assert.ok(t);
  const count = async () => Number((await w.app.kernel.db('messaging_messages').where({ thread_id: t.id }).count({ n: '*' }).first())!.n);
  const n = await count();
  for (const who of CLIENTS) {
    const c = w.as[who];
    for (const hx of [false, true]) {
      const h: Record<string, string> = hx ? { 'HX-Request': 'true' } : {};
      assert.is((await c.get(on, h)).status, 404, `${who}: the fragment${hx ? ' (htmx)' : ''}`);
      assert.is((await c.get(`${B()}/t/${t.id}`, h)).status, 404, `${who}: the thread page`);
      assert.is((await c.get(`${B()}/t/${t.id}/messages`, h)).status, 404, `${who}: the live fetch`);
      assert.is((await c.get(`${B()}/t/${t.id}/export`, h)).status, 404, `${who}: the export`);
    }
    await c.get(`${B()}/`);
    const post = await c.postForm(on, { body: 'a client tries' });
    assert.is(post.status, 404, `${who}: the post`);
    assert.is((await c.postForm(`${B()}/t/${t.id}`, { body: 'a client tries the thread' })).status, 404, `${who}: a post to the thread`);
    const list = await c.get(`${B()}/`);
    assert.not.match(list.text, 'fees-internal', `${who}: the list`);
    const found = await c.get(`${B()}/search?q=FEESCANARY`);
    assert.is(found.status, 200);
    assert.not.match(found.text, 'raise them', `${who}: search`);
    assert.is((await c.get(`${B()}/unread`)).text, unreadBefore[who], `${who}: the unread count`);
    const home = await c.get(`/w/${w.ws.slug}/`);
    assert.not.match(home.text, 'FEESCANARY', `${who}: the dashboard`);
  }
  assert.is(await count(), n, 'nothing posted');
  // Staff find it.
  assert.match((await w.as.staff.get(`${B()}/search?q=FEESCANARY`)).text, 'raise them');
  assert.match((await w.as.staff.get(`${B()}/`)).text, 'fees-internal.txt');
});

test('a shared file made internal: its discussion leaves the clients’ list and search', async () => {
  const fileId = String((await w.app.kernel.db('files_files').where({ workspace_id: w.ws.id, name: 'design.pdf.txt' }).first('id')).id);
  await w.app.kernel.db('files_files').where({ id: fileId }).update({ area: 'internal' });
  for (const who of CLIENTS) {
    assert.not.match((await w.as[who].get(`${B()}/`)).text, 'design.pdf.txt', `${who}: the list`);
    assert.not.match((await w.as[who].get(`${B()}/search?q=darker`)).text, 'Agreed', `${who}: search`);
    assert.is((await w.as[who].get(`${B()}/on/File/${fileId}`)).status, 404, who);
  }
});

test.run();
