// Internal notes never reach a client, on the paths flow.test.ts does not walk (it covers the
// thread page, the fragment's first load, search, export and a member's unread count): the thread
// list (its message count, its order and its "new" badge) and the dashboard widget, the live
// fetch after a cursor, a subject's discussion, the live stream (a client's stream gets no thread
// ping for a note, staff's does), the batched mail after the window and the daily digest.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { messagingWorld, mailBatches, type World } from './helpers.ts';
import { uploadFile } from '../approvals/helpers.ts';
import { openSseLog, cookieOf, mailsWithReplyTo } from './support.ts';
import { threadEvent, UNREAD_EVENT } from '../../../plugins/messaging/service.ts';
import { cursorOf } from '../../../plugins/messaging/repo.ts';
import { transaction } from '../../../core/db/index.ts';
import { addMember, createUser } from '../../../core/identity/users.ts';
import type { HttpClient } from '../../helpers/http.ts';

const test = suite('messaging: internal notes never reach a client');
const NOTE = 'NOTECANARY';
const CLIENTS = ['admin', 'member', 'member2', 'viewer'] as const;
let w: World;
let staff2: HttpClient;
const B = () => `/w/${w.ws.slug}/messaging`;
const WINDOW_MS = 60_000;

test.before(async () => {
  w = await messagingWorld();
  // A second member of the firm on this workspace, to receive the firm's own notes by mail.
  const k = w.app.kernel;
  await transaction(k.db, async (trx) => {
    const u = await createUser(k, trx, { email: 'staff2@acme.example', name: 'Second Staff', passwordHash: await k.passwords.hash(w.password), firmRole: 'staff' }, { actorId: null, via: 'cli' });
    await addMember(k, trx, { workspaceId: w.ws.id, userId: u.id, role: 'staff' }, { actorId: null, via: 'cli' });
  });
  staff2 = w.app.client();
  assert.is((await staff2.login('staff2@acme.example', w.password)).status, 303);
  await staff2.get(`${B()}/`);
});
test.after(async () => {
  await w?.app.close();
});

const threadId = async (title: string) => String((await w.app.kernel.db('messaging_threads').where({ workspace_id: w.ws.id, title }).first('id')).id);

test('the list: a note counts for the firm only, does not move a thread up for a client, and is no "new" message', async () => {
  await w.as.member.get(`${B()}/new`);
  assert.is((await w.as.member.postForm(`${B()}/new`, { title: 'Older topic', body: 'first topic' })).status, 303);
  w.clock.advance(1000);
  assert.is((await w.as.member.postForm(`${B()}/new`, { title: 'Newer topic', body: 'second topic' })).status, 303);
  w.clock.advance(1000);
  // The firm notes on the older topic: for staff it is now the most recent; for clients, not.
  const older = await threadId('Older topic');
  await w.as.staff.get(`${B()}/t/${older}`);
  assert.is((await w.as.staff.postForm(`${B()}/t/${older}`, { body: `${NOTE} on the older topic`, internal: 'yes' })).status, 303);
  const order = (html: string) => [...html.matchAll(/class="ui-list-title" href="[^"]+">([^<]+)</g)].map((m) => m[1]);
  const staffList = await staff2.get(`${B()}/`);
  assert.equal(order(staffList.text).slice(1, 3), ['Older topic', 'Newer topic'], 'staff: the note is the latest activity');
  assert.match(staffList.text, /Older topic<\/a>\s*\S*[^]*?2 messages/);
  for (const who of CLIENTS) {
    const list = await w.as[who].get(`${B()}/`);
    assert.is(list.status, 200);
    assert.equal(order(list.text).slice(1, 3), ['Newer topic', 'Older topic'], `${who}: order by the last message they may read`);
    const olderItem = /Older topic<\/a>([^]*?)<\/li>/.exec(list.text)![1]!;
    assert.match(olderItem, '1 message', `${who}: the public message only`);
    assert.not.match(olderItem, '2 messages');
    assert.not.match(list.text, NOTE);
    if (who !== 'member') assert.match(olderItem, '1 new', `${who}: one unread (the topic), not the note`);
    else assert.not.match(olderItem, ' new<', 'the author has read their own message; the note is nothing new');
    // The dashboard widget lists the same threads with the same counts.
    const home = await w.as[who].get(`/w/${w.ws.slug}/`);
    assert.not.match(home.text, NOTE, `${who}: dashboard`);
  }
  // The member's menu count: nothing new (their own topic, then a note they cannot read).
  assert.is((await w.as.member.get(`${B()}/unread`)).text, '');
  assert.match((await staff2.get(`${B()}/unread`)).text, '>3<', 'staff2: two topics and the note');
});

test('the live fetch after a cursor and a subject’s discussion: no note for a client', async () => {
  const t = await threadId('Newer topic');
  const first = (await w.app.kernel.db('messaging_messages').where({ thread_id: t }).first('id', 'created_at')) as { id: string; created_at: number | string };
  const cursor = cursorOf({ id: first.id, created_at: Number(first.created_at) });
  w.clock.advance(1000);
  await w.as.staff.get(`${B()}/t/${t}`);
  assert.is((await w.as.staff.postForm(`${B()}/t/${t}`, { body: `${NOTE} after the cursor`, internal: 'yes' })).status, 303);
  assert.is((await w.as.staff.postForm(`${B()}/t/${t}`, { body: 'Public answer after the cursor' })).status, 303);
  for (const who of CLIENTS) {
    const frag = await w.as[who].get(`${B()}/t/${t}/messages?after=${encodeURIComponent(cursor)}`, { 'HX-Request': 'true' });
    assert.is(frag.status, 200);
    assert.match(frag.text, 'Public answer after the cursor', who);
    assert.not.match(frag.text, NOTE, `${who}: live fetch`);
  }
  assert.match((await staff2.get(`${B()}/t/${t}/messages?after=${encodeURIComponent(cursor)}`, { 'HX-Request': 'true' })).text, NOTE);
  // A file's discussion: the firm's note on it stays with the firm.
  const fileId = await uploadFile(w, 'brief.txt', 'the brief');
  const on = `${B()}/on/File/${fileId}`;
  await w.as.staff.get(`/w/${w.ws.slug}/files/f/${fileId}`);
  assert.is((await w.as.staff.postForm(on, { body: `${NOTE} about the brief`, internal: 'yes' })).status, 303);
  assert.is((await w.as.staff.postForm(on, { body: 'The brief is ready' })).status, 303);
  for (const who of CLIENTS) {
    const frag = await w.as[who].get(on, { 'HX-Request': 'true' });
    assert.is(frag.status, 200, who);
    assert.match(frag.text, 'The brief is ready');
    assert.not.match(frag.text, NOTE, `${who}: a subject's discussion`);
  }
  assert.match((await staff2.get(on, { 'HX-Request': 'true' })).text, NOTE);
});

test('the live stream: a note pings the firm’s open pages, never a client’s', async () => {
  const t = await threadId('Older topic');
  const member = await openSseLog(`${w.app.url}/live`, cookieOf(w.as.member.cookies));
  const viewer = await openSseLog(`${w.app.url}/live`, cookieOf(w.as.viewer.cookies));
  const firm = await openSseLog(`${w.app.url}/live`, cookieOf(staff2.cookies));
  try {
    assert.is(member.status, 200);
    await w.as.staff.get(`${B()}/t/${t}`);
    assert.is((await w.as.staff.postForm(`${B()}/t/${t}`, { body: `${NOTE} while they watch`, internal: 'yes' })).status, 303);
    await firm.until(threadEvent(t));
    await firm.until(UNREAD_EVENT);
    for (const [who, s] of [['member', member], ['viewer', viewer]] as const) {
      await w.app.kernel.live.publish(w.users[who], 'sentinel', 'x');
      await s.until('sentinel');
      assert.equal(s.events.filter((e) => e.event.startsWith('messaging')), [], `${who}: ${JSON.stringify(s.events)}`);
    }
    // The same thread's public answer reaches them (so the silence above is the rule, not a dead stream).
    assert.is((await w.as.staff.postForm(`${B()}/t/${t}`, { body: 'A public answer while they watch' })).status, 303);
    await member.until(threadEvent(t));
    await viewer.until(threadEvent(t));
  } finally {
    for (const s of [member, viewer, firm]) s.close();
  }
});

test('the batched mail: an internal-only batch mails the firm, never a client; a mixed batch mails clients the public part', async () => {
  await mailBatches(w); // nothing due yet is sent; clear what earlier tests left due
  w.clock.advance(WINDOW_MS + 1000);
  await mailBatches(w);
  const count = async (email: string) => (await mailsWithReplyTo(w.app, email)).length;
  const before = Object.fromEntries(await Promise.all([...CLIENTS, 'staff'].map(async (who) => [who, await count(w.emails[who as keyof typeof w.emails])])));
  const staff2Before = await count('staff2@acme.example');
  // A new thread, read by all, then a note only.
  await w.as.admin.get(`${B()}/new`);
  assert.is((await w.as.admin.postForm(`${B()}/new`, { title: 'Payroll', body: 'payroll question' })).status, 303);
  const t = await threadId('Payroll');
  for (const who of [...CLIENTS, 'staff'] as const) await w.as[who].get(`${B()}/t/${t}`);
  await staff2.get(`${B()}/t/${t}`);
  w.clock.advance(WINDOW_MS + 1000);
  await mailBatches(w);
  const base = Object.fromEntries(await Promise.all([...CLIENTS, 'staff'].map(async (who) => [who, await count(w.emails[who as keyof typeof w.emails])])));
  const base2 = await count('staff2@acme.example');
  assert.equal(base, before, 'read in the portal within the window: no mail');
  assert.is(base2, staff2Before);
  assert.is((await w.as.staff.postForm(`${B()}/t/${t}`, { body: `${NOTE} payroll is late`, internal: 'yes' })).status, 303);
  w.clock.advance(WINDOW_MS + 1000);
  await mailBatches(w);
  for (const who of CLIENTS) {
    const mails = await mailsWithReplyTo(w.app, w.emails[who]);
    assert.is(mails.length, base[who], `${who}: no mail for an internal-only batch`);
    assert.not.ok(mails.some((m) => m.text.includes(NOTE)), who);
  }
  const firm = await mailsWithReplyTo(w.app, 'staff2@acme.example');
  assert.is(firm.length, base2 + 1, 'staff2 is mailed the note');
  assert.match(firm.at(-1)!.text, `${NOTE} payroll is late`);
  // Mixed: a note and a public answer in one window: clients get the answer, not the note.
  assert.is((await w.as.staff.postForm(`${B()}/t/${t}`, { body: `${NOTE} second note`, internal: 'yes' })).status, 303);
  assert.is((await w.as.staff.postForm(`${B()}/t/${t}`, { body: 'Payroll runs on Friday' })).status, 303);
  w.clock.advance(WINDOW_MS + 1000);
  await mailBatches(w);
  for (const who of CLIENTS) {
    const mails = await mailsWithReplyTo(w.app, w.emails[who]);
    assert.is(mails.length, base[who] + 1, `${who}: one mail`);
    assert.match(mails.at(-1)!.subject, 'New message in “Payroll”', `${who}: one message, not two`);
    assert.match(mails.at(-1)!.text, 'Payroll runs on Friday');
    assert.not.ok(mails.some((m) => m.text.includes(NOTE)), `${who}: no note in the mail`);
  }
  const notices = (await w.app.kernel.db('notifications').whereIn('user_id', CLIENTS.map((c) => w.users[c])).select('subject', 'body')) as Array<{ subject: string; body: string }>;
  assert.not.ok(notices.some((n) => n.body.includes(NOTE) || n.subject.includes(NOTE)), 'no client notice holds the note');
});

test('the daily digest: a client on "digest" gets the public message of the day, nothing of the note', async () => {
  const c = w.as.member2;
  await c.get('/account/notifications');
  assert.is((await c.postForm('/account/notifications', { pref: 'digest' })).status, 303);
  assert.is((await w.app.kernel.db('users').where({ id: w.users.member2 }).first('notify_pref')).notify_pref, 'digest');
  const before = (await mailsWithReplyTo(w.app, w.emails.member2)).length;
  const t = await threadId('Payroll');
  assert.is((await w.as.staff.postForm(`${B()}/t/${t}`, { body: `${NOTE} digest note`, internal: 'yes' })).status, 303);
  assert.is((await w.as.staff.postForm(`${B()}/t/${t}`, { body: 'Digest public answer' })).status, 303);
  w.clock.advance(WINDOW_MS + 1000);
  await mailBatches(w);
  assert.is((await mailsWithReplyTo(w.app, w.emails.member2)).length, before, 'digest: nothing mailed at once');
  w.clock.advance(24 * 3_600_000);
  assert.ok((await w.app.kernel.notifications.sendDigests(w.app.kernel.db)) >= 1);
  const mails = await mailsWithReplyTo(w.app, w.emails.member2);
  assert.is(mails.length, before + 1, 'one digest');
  const digest = mails.at(-1)!;
  assert.match(digest.subject, 'daily summary');
  assert.match(digest.text, 'Digest public answer');
  assert.not.match(digest.text, NOTE);
  assert.is(digest.replyTo, null, 'the digest carries no reply address');
});

test.run();
