// Reply by email, end to end: the batched notification mail carries a Reply-To bound to its
// recipient and thread; a real SMTP reply to it (nodemailer -> the kernel's inbound listener on
// port 0) appears in the thread as that person, with its attachment, without the quoted text.
// Refused, audited as core.inbound.refused, nothing posted: a forged sender, an address whose
// person left the workspace, a reply to a file's discussion after the file became internal, and
// an address past replyTokenDays. A viewer, who may not answer, is not offered a reply address.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import nodemailer from 'nodemailer';
import { messagingWorld, mailBatches, threadIdIn, type World } from './helpers.ts';
import { uploadFile } from '../approvals/helpers.ts';
import { download, PNG } from '../files/helpers.ts';
import { mailsWithReplyTo } from './support.ts';

const test = suite('messaging: reply by email');
const DOMAIN = 'reply.harbor.example';
const WINDOW_MS = 60_000;
let w: World;
let threadId = '';
const B = () => `/w/${w.ws.slug}/messaging`;
/** The Reply-To of the latest mail to each person. */
const replyTo: Record<string, string | null> = {};

test.before(async () => {
  w = await messagingWorld({ overrides: { inbound: { enabled: true, host: '127.0.0.1', port: 0, domain: DOMAIN } } });
});
test.after(async () => {
  await w?.app.close();
});

async function send(m: { from: string; to: string; text: string; messageId?: string; attachments?: Array<{ filename: string; content: Buffer | string; contentType?: string }> }): Promise<{ ok: boolean; code?: number }> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: w.app.kernel.inbound.listening!.port, secure: false, ignoreTLS: true });
  try {
    await t.sendMail({ from: m.from, to: m.to, envelope: { from: m.from, to: [m.to] }, subject: 'Re: New message', text: m.text, ...(m.messageId ? { messageId: m.messageId } : {}), ...(m.attachments ? { attachments: m.attachments } : {}) });
    return { ok: true };
  } catch (err) {
    const e = err as { responseCode?: number; rejectedErrors?: Array<{ responseCode?: number }> };
    return { ok: false, code: e.responseCode ?? e.rejectedErrors?.[0]?.responseCode };
  } finally {
    t.close();
  }
}

const messagesIn = async (id: string) => (await w.app.kernel.db('messaging_messages').where({ thread_id: id }).orderBy('created_at').orderBy('id').select('id', 'author_id', 'body', 'via')) as Array<{ id: string; author_id: string; body: string; via: string }>;
const lastRefusal = async () => {
  const r = await w.app.kernel.db('audit_events').where({ action: 'core.inbound.refused' }).orderBy('seq', 'desc').first('detail', 'workspace_id');
  return r ? { ...r, detail: JSON.parse(r.detail) as Record<string, unknown> } : undefined;
};
const refusalCount = async () => Number((await w.app.kernel.db('audit_events').where({ action: 'core.inbound.refused' }).count({ n: '*' }).first())!.n);

test('the notification mail carries a reply address for each person who may answer (not the viewer)', async () => {
  await w.as.staff.get(`${B()}/general`);
  const res = await w.as.staff.postForm(`${B()}/general`, { body: 'Could you send us your logo?' });
  assert.is(res.status, 303);
  threadId = threadIdIn(res.location)!;
  w.clock.advance(WINDOW_MS + 1);
  await mailBatches(w);
  for (const who of ['admin', 'member', 'member2', 'viewer'] as const) {
    const mails = await mailsWithReplyTo(w.app, w.emails[who]);
    assert.is(mails.length, 1, who);
    replyTo[who] = mails[0]!.replyTo;
  }
  for (const who of ['admin', 'member', 'member2'] as const) {
    assert.match(replyTo[who] ?? '', new RegExp(`^reply\\+[a-z2-7]{52}@${DOMAIN.replace(/\./g, '\\.')}$`), who);
  }
  assert.is(new Set([replyTo.admin, replyTo.member, replyTo.member2]).size, 3, 'one address per recipient');
  const viewerMail = (await mailsWithReplyTo(w.app, w.emails.viewer))[0]!;
  assert.is(viewerMail.replyTo, null, 'a viewer may not answer: no reply address');
  assert.not.match(viewerMail.text, 'Reply to this email');
});

test('a real SMTP reply appears in the thread as its person, without the quote, with its attachment', async () => {
  const sent = await send({
    from: '"Admin Person" <Admin@Acme.example>',
    to: replyTo.admin!,
    text: 'Here is our logo.\n\nOn Mon, Dec 7, 2026 Harbor & Vale LLP wrote:\n> Could you send us your logo?\n',
    messageId: '<logo-1@acme.example>',
    attachments: [{ filename: 'logo.png', content: PNG, contentType: 'image/png' }],
  });
  assert.ok(sent.ok, JSON.stringify(sent));
  const msgs = await messagesIn(threadId);
  const m = msgs.at(-1)!;
  assert.is(m.author_id, w.users.admin);
  assert.is(m.body, 'Here is our logo.');
  assert.is(m.via, 'email');
  const att = await w.app.kernel.db('messaging_attachments').where({ message_id: m.id }).first('id', 'name', 'content_type');
  assert.is(att.name, 'logo.png');
  assert.is(att.content_type, 'image/png');
  const page = await w.as.staff.get(`${B()}/t/${threadId}`);
  assert.match(page.text, 'Here is our logo.');
  assert.match(page.text, 'Admin Person');
  assert.match(page.text, `${B()}/a/${att.id}`);
  const d = await download(w.as.member, `${B()}/a/${att.id}`);
  assert.is(d.status, 200);
  assert.equal(Buffer.compare(d.body, PNG), 0);
  const audit = await w.app.kernel.db('audit_events').where({ action: 'messaging.message.post', subject_id: m.id }).first('actor_id', 'detail');
  assert.is(audit.actor_id, w.users.admin);
  assert.match(audit.detail, '"via":"email"');
});

test('a forged sender is refused (550), audited, nothing posted', async () => {
  const before = (await messagesIn(threadId)).length;
  const refused = await refusalCount();
  const res = await send({ from: 'mallory@evil.example', to: replyTo.member!, text: 'Please pay into this account instead.' });
  assert.is(res.code, 550);
  const r = (await lastRefusal())!;
  assert.is(r.detail.reason, 'sender-mismatch');
  assert.is(r.detail.userId, w.users.member);
  assert.is(await refusalCount(), refused + 1);
  // Another client of the same workspace, with the member's address, is not the member either.
  assert.is((await send({ from: w.emails.member2, to: replyTo.member!, text: 'I am the member.' })).code, 550);
  assert.is((await lastRefusal())!.detail.reason, 'sender-mismatch');
  assert.is((await messagesIn(threadId)).length, before);
});

test('a person who can no longer read the thread: removed from the workspace, or the file became internal', async () => {
  const before = (await messagesIn(threadId)).length;
  await w.app.kernel.db('memberships').where({ workspace_id: w.ws.id, user_id: w.users.member2 }).delete();
  assert.is((await send({ from: w.emails.member2, to: replyTo.member2!, text: 'Am I still here?' })).code, 550);
  assert.is((await lastRefusal())!.detail.reason, 'not-a-member');
  assert.is((await messagesIn(threadId)).length, before);
  // A file's discussion: the member is mailed, then the file is made internal; their reply is
  // refused by the plugin's own check (they are still a member, the thread is kept from them).
  const fileId = await uploadFile(w, 'plan.txt', 'the plan');
  await w.as.staff.get(`/w/${w.ws.slug}/files/f/${fileId}`);
  assert.is((await w.as.staff.postForm(`${B()}/on/File/${fileId}`, { body: 'Please read the plan' })).status, 303);
  const fileThread = String((await w.app.kernel.db('messaging_threads').where({ workspace_id: w.ws.id, subject_id: fileId }).first('id')).id);
  w.clock.advance(WINDOW_MS + 1);
  await mailBatches(w);
  const mail = (await mailsWithReplyTo(w.app, w.emails.member)).at(-1)!;
  assert.match(mail.subject, 'plan.txt');
  assert.ok(mail.replyTo);
  await w.app.kernel.db('files_files').where({ id: fileId }).update({ area: 'internal' });
  const n = (await messagesIn(fileThread)).length;
  assert.is((await send({ from: w.emails.member, to: mail.replyTo!, text: 'Read it, thanks.' })).code, 550);
  const r = (await lastRefusal())!;
  assert.is(r.detail.reason, 'not-a-reader');
  assert.is(r.detail.stage, 'handler');
  assert.is((await messagesIn(fileThread)).length, n, 'nothing posted');
});

test('an address past replyTokenDays is refused (550), audited, nothing posted', async () => {
  const before = (await messagesIn(threadId)).length;
  w.clock.advance(31 * 86_400_000);
  const res = await send({ from: w.emails.admin, to: replyTo.admin!, text: 'A month later.' });
  assert.is(res.code, 550);
  assert.is((await lastRefusal())!.detail.reason, 'expired-token');
  assert.is((await messagesIn(threadId)).length, before);
});

test.run();
