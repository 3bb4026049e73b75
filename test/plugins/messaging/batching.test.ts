// Batched notification mail: ten messages within the window are ONE mail to each other reader,
// sent when the window ends (the job run by hand after the manual clock moves); a reader who
// opened the thread in the portal before the window ended gets none; the author gets none; a
// person whose preference is "off" gets none (the notice is kept, muted); a second run sends
// nothing again.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { messagingWorld, mailBatches, threadIdIn, type World } from './helpers.ts';
import { mailsWithReplyTo } from './support.ts';

const test = suite('messaging: batched mail');
let w: World;
let threadId = '';
const B = () => `/w/${w.ws.slug}/messaging`;
const WINDOW_MS = 60_000;
const OTHERS = ['staff', 'admin', 'member2', 'viewer'] as const;

test.before(async () => {
  w = await messagingWorld();
});
test.after(async () => {
  await w?.app.close();
});

const mailCount = async (who: keyof World['emails']) => (await mailsWithReplyTo(w.app, w.emails[who])).length;

test('ten messages in the window: one mail to each other reader; none to one who read them in the portal, none to the author', async () => {
  await w.as.member.get(`${B()}/general`);
  for (let i = 1; i <= 10; i++) {
    const res = await w.as.member.postForm(`${B()}/general`, { body: `Batched message number ${i}` });
    assert.is(res.status, 303);
    threadId ||= threadIdIn(res.location)!;
    w.clock.advance(2_000);
  }
  assert.is(Number((await w.app.kernel.db('messaging_mail_queue').where({ thread_id: threadId }).count({ n: '*' }).first())!.n), OTHERS.length, 'one queued batch per other reader');
  // Before the window ends: nothing is due yet, and the viewer opens the thread.
  assert.equal(await mailBatches(w), { mailed: 0, dropped: 0 });
  assert.is((await w.as.viewer.get(`${B()}/t/${threadId}`)).status, 200);
  w.clock.advance(WINDOW_MS);
  assert.equal(await mailBatches(w), { mailed: 3, dropped: 1 });
  for (const who of ['staff', 'admin', 'member2'] as const) {
    const mails = await mailsWithReplyTo(w.app, w.emails[who]);
    assert.is(mails.length, 1, `${who}: one mail`);
    assert.is(mails[0]!.subject, '10 new messages in “General”');
    for (let i = 1; i <= 10; i++) assert.match(mails[0]!.text, `Batched message number ${i}`);
    assert.match(mails[0]!.text, `/w/${w.ws.slug}/messaging/t/${threadId}`);
  }
  assert.is(await mailCount('viewer'), 0, 'read in the portal within the window: no mail');
  assert.is(await mailCount('member'), 0, 'the author is not mailed their own messages');
  assert.equal(await mailBatches(w), { mailed: 0, dropped: 0 }, 'a second run sends nothing again');
  assert.is(await mailCount('staff'), 1);
});

test('a person whose preference is "off" is not mailed (the notice is kept, muted); the others are', async () => {
  const c = w.as.member2;
  await c.get('/account/notifications');
  assert.is((await c.postForm('/account/notifications', { pref: 'off' })).status, 303);
  const before = { admin: await mailCount('admin'), member2: await mailCount('member2') };
  await w.as.staff.get(`${B()}/t/${threadId}`);
  assert.is((await w.as.staff.postForm(`${B()}/t/${threadId}`, { body: 'An answer for everyone' })).status, 303);
  w.clock.advance(WINDOW_MS + 1);
  await mailBatches(w);
  assert.is(await mailCount('admin'), before.admin + 1);
  assert.is(await mailCount('member2'), before.member2, 'preference off: no mail');
  const notice = await w.app.kernel.db('notifications').where({ user_id: w.users.member2, kind: 'messaging.messages' }).orderBy('created_at', 'desc').first('state', 'body');
  assert.is(notice.state, 'muted');
  assert.match(notice.body, 'An answer for everyone');
});

test.run();
