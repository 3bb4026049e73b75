// Replies by email end to end: a real app with the inbound listener on 127.0.0.1:0, a fixture
// plugin (test/fixtures/plugins/replies) whose handler posts into its own table, and nodemailer
// delivering over SMTP. The reply reaches the handler as the right person with its attachment;
// a forged sender, an expired or unknown address, an oversized message, a disabled person or
// one who left the workspace, and a handler's refusal are refused and audited (never with the
// token); a second delivery of the same Message-ID is not posted twice; tokens are stored hashed
// and appear in no log line.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import nodemailer from 'nodemailer';
import { simpleParser } from 'mailparser';
import { startApp, setupOwner, fixturePlugin, type TestApp } from '../helpers/app.ts';
import { ManualClock } from '../../core/clock.ts';
import { transaction } from '../../core/db/index.ts';
import { sha256Hex } from '../../core/ids.ts';
import { addMember, createUser, createWorkspace } from '../../core/identity/users.ts';
import { emlFileName } from '../../core/mail/transports.ts';
import { newInboundToken } from '../../core/inbound/service.ts';
import { flushMail } from '../identity/support.ts';

const test = suite('inbound delivery');
const DOMAIN = 'reply.harbor.example';
const MAX_BYTES = 64 * 1024;
const clock = new ManualClock(Date.UTC(2026, 11, 3, 9, 0, 0));
const logLines: string[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  }),
);
let app: TestApp;
let workspaceId: string;
const people: Record<'ada' | 'ben' | 'cy' | 'dora', string> = { ada: '', ben: '', cy: '', dora: '' };
/** Every reply address issued, to prove none of their tokens is ever logged or audited. */
const issued: string[] = [];

const posts = () => app.kernel.db('replies_posts').orderBy('created_at').orderBy('id');
const refusals = async () => (await app.kernel.db('audit_events').where({ action: 'core.inbound.refused' }).orderBy('seq')).map((r: { detail: string; subject_id: string | null; workspace_id: string | null }) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
const lastRefusal = async () => (await refusals()).at(-1)!;

async function issue(who: keyof typeof people, subjectId = 'thread-1', ttlMs?: number): Promise<string> {
  const address = await transaction(app.kernel.db, (trx) => app.kernel.inbound.replyAddress(trx, { plugin: 'replies', purpose: 'comment', userId: people[who], workspaceId, subjectId, ...(ttlMs ? { ttlMs } : {}) }));
  assert.ok(address);
  issued.push(address!);
  return address!;
}

interface Sent {
  ok: boolean;
  code?: number;
  response?: string;
}
async function send(m: { from: string; to: string; envelopeFrom?: string; text?: string; html?: string; messageId?: string; attachments?: Array<{ filename: string; content: string | Buffer; contentType?: string }>; headers?: Record<string, string> }): Promise<Sent> {
  const port = app.kernel.inbound.listening!.port;
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    await t.sendMail({
      from: m.from,
      to: m.to,
      envelope: { from: m.envelopeFrom ?? m.from, to: [m.to] },
      subject: 'Re: New message',
      ...(m.text !== undefined ? { text: m.text } : {}),
      ...(m.html !== undefined ? { html: m.html } : {}),
      ...(m.messageId ? { messageId: m.messageId } : {}),
      ...(m.attachments ? { attachments: m.attachments } : {}),
      ...(m.headers ? { headers: m.headers } : {}),
    });
    return { ok: true };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; rejectedErrors?: Array<{ responseCode?: number; response?: string }> };
    const first = e.rejectedErrors?.[0];
    return { ok: false, code: e.responseCode ?? first?.responseCode, response: e.response ?? first?.response };
  } finally {
    t.close();
  }
}

test.before(async () => {
  app = await startApp({
    plugins: [fixturePlugin('replies')],
    clock,
    logger,
    overrides: { inbound: { enabled: true, host: '127.0.0.1', port: 0, domain: DOMAIN, maxBytes: MAX_BYTES, tokenTtlDays: 30 } },
  });
  await setupOwner(app);
  const k = app.kernel;
  await transaction(k.db, async (trx) => {
    const ws = await createWorkspace(k, trx, { name: 'Northwind Traders', slug: 'northwind' }, { actorId: null });
    workspaceId = ws.id;
    for (const [key, email, name] of [
      ['ada', 'Ada@Northwind.example', 'Ada Lovelace'],
      ['ben', 'ben@northwind.example', 'Ben Baker'],
      ['cy', 'cy@northwind.example', 'Cy Clark'],
      ['dora', 'dora@northwind.example', 'Dora Diaz'],
    ] as const) {
      const u = await createUser(k, trx, { email: email.toLowerCase(), name, passwordHash: 'x', firmRole: null }, { actorId: null });
      people[key] = u.id;
      await addMember(k, trx, { workspaceId: ws.id, userId: u.id, role: 'client_member' }, { actorId: null });
    }
  });
});
test.after(async () => {
  await app.close();
});

test('reply tokens: 52 lower-case base32 characters, so reply+<token> stays within 64', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const t = newInboundToken();
    assert.match(t, /^[a-z2-7]{52}$/);
    seen.add(t);
  }
  assert.is(seen.size, 200);
  assert.ok(`reply+${newInboundToken()}`.length <= 64);
});

test('the listener is up on the bound port; reply addresses are reply+<52 base32>@domain, stored only as a hash', async () => {
  assert.ok(app.kernel.inbound.enabled);
  assert.ok(app.kernel.inbound.listening!.port > 0);
  const address = await issue('ada');
  const m = /^reply\+([a-z2-7]{52})@reply\.harbor\.example$/.exec(address);
  assert.ok(m, address);
  const token = m![1]!;
  const row = await app.kernel.db('inbound_tokens').where({ token_hash: sha256Hex(token) }).first();
  assert.ok(row, 'found by its hash');
  for (const v of Object.values(row)) assert.not.ok(String(v).includes(token), 'no column holds the token');
  assert.is(row.user_id, people.ada);
  assert.is(Number(row.expires_at), clock.now() + 30 * 86_400_000, 'default lifetime from inbound.tokenTtlDays');
});

test('a reply to the Reply-To of a notice reaches the handler over SMTP: the right person, the reply text, the attachment', async () => {
  const address = await issue('ada', 'thread-7');
  await transaction(app.kernel.db, (trx) =>
    app.kernel.notifications.notify(trx, [{ userId: people.ada, workspaceId, kind: 'replies.post', subject: 'New message in "Year-end"', text: 'Olivia wrote: could you send the March statements?', replyTo: address }]),
  );
  await flushMail(app);
  const row = await app.kernel.db('outbox').where({ to_address: 'ada@northwind.example' }).orderBy('created_at', 'desc').first();
  const notice = await simpleParser(readFileSync(join(app.db.dataDir, 'mail', emlFileName(row.message_id))));
  const replyTo = notice.replyTo!.value[0]!.address!;
  assert.is(replyTo, address);

  const sent = await send({
    from: '"Ada Lovelace" <ADA@northwind.example>', // case differs from the account's address
    to: replyTo.toUpperCase().replace('@REPLY.HARBOR.EXAMPLE', '@reply.harbor.example'), // a relay that upper-cases the local part
    text: `Here they are.\n\nAda\n\nOn Thu, Dec 3, 2026 at 10:04 AM Harbor & Vale LLP <portal@harbor.example> wrote:\n> Olivia wrote: could you send the March statements?\n`,
    messageId: '<reply-1@northwind.example>',
    attachments: [{ filename: 'march.csv', content: 'date,amount\n2026-03-01,12.50\n', contentType: 'text/csv' }],
  });
  assert.ok(sent.ok, JSON.stringify(sent));
  const all = await posts();
  assert.is(all.length, 1);
  const post = all[0];
  assert.is(post.user_id, people.ada);
  assert.is(post.workspace_id, workspaceId);
  assert.is(post.subject_id, 'thread-7');
  assert.is(post.body, 'Here they are.\n\nAda');
  assert.is(post.message_id, '<reply-1@northwind.example>');
  const atts = JSON.parse(post.attachments);
  assert.equal(atts, [{ filename: 'march.csv', contentType: 'text/csv', size: 29, text: 'date,amount\n2026-03-01,12.50\n' }]);
  const audit = await app.kernel.db('audit_events').where({ action: 'replies.post.create', subject_id: post.id }).first();
  assert.is(audit.actor_id, people.ada, "the handler's own audit event, as the person");
});

test('a second delivery of the same Message-ID to the same address is accepted but not posted again', async () => {
  const address = await issue('ada', 'thread-dup');
  const msg = { from: 'ada@northwind.example', to: address, text: 'Only once, please.', messageId: '<dup-1@northwind.example>' };
  assert.ok((await send(msg)).ok);
  const again = await send(msg);
  assert.ok(again.ok, 'accepted (250): the relay must not retry or bounce');
  assert.is((await posts()).filter((p: { subject_id: string }) => p.subject_id === 'thread-dup').length, 1);
  // The same Message-ID to another address (another thread) is another reply.
  const other = await issue('ada', 'thread-dup-2');
  assert.ok((await send({ ...msg, to: other })).ok);
  assert.is((await posts()).filter((p: { subject_id: string }) => p.subject_id === 'thread-dup-2').length, 1);
});

test('two deliveries of the same message at once: one is posted, the other is a duplicate', async () => {
  const address = await issue('ben', 'thread-race');
  const raw = Buffer.from(`From: ben@northwind.example\r\nTo: ${address}\r\nSubject: Re\r\nMessage-ID: <race-1@northwind.example>\r\n\r\nRacing.\r\n`);
  const outcomes = await Promise.all([0, 1, 2].map(() => app.kernel.inbound.receive(raw, { from: 'ben@northwind.example', to: [address] })));
  assert.equal(outcomes.filter((o) => o.ok).length, 1, JSON.stringify(outcomes));
  assert.equal(outcomes.filter((o) => !o.ok).map((o) => (o as { reason: string }).reason), ['duplicate', 'duplicate']);
  assert.is((await posts()).filter((p: { subject_id: string }) => p.subject_id === 'thread-race').length, 1);
});

test('a forged From, or a forged envelope sender, is refused (550) and audited; nothing is posted', async () => {
  const address = await issue('ben', 'thread-forged');
  const before = (await posts()).length;
  const forged = await send({ from: 'mallory@evil.example', to: address, text: 'Please pay into this account instead.' });
  assert.is(forged.ok, false);
  assert.is(forged.code, 550);
  let r = await lastRefusal();
  assert.is(r.detail.reason, 'sender-mismatch');
  assert.is(r.detail.from, 'mallory@evil.example');
  assert.is(r.detail.userId, people.ben);
  assert.is(r.workspace_id, workspaceId);
  const envelope = await send({ from: 'ben@northwind.example', envelopeFrom: 'mallory@evil.example', to: address, text: 'Header right, envelope wrong.' });
  assert.is(envelope.code, 550);
  r = await lastRefusal();
  assert.is(r.detail.reason, 'sender-mismatch');
  // Another member of the same workspace is not the address's person either.
  assert.is((await send({ from: 'cy@northwind.example', to: address, text: 'I am Cy.' })).code, 550);
  assert.is((await posts()).length, before);
});

test('an expired address is refused at RCPT (550) and audited; receive() refuses it too', async () => {
  const address = await issue('ben', 'thread-old', 3_600_000);
  clock.advance(2 * 3_600_000);
  const res = await send({ from: 'ben@northwind.example', to: address, text: 'Late reply.' });
  assert.is(res.ok, false);
  assert.is(res.code, 550);
  assert.match(res.response ?? '', /expired/);
  const r = await lastRefusal();
  assert.is(r.detail.reason, 'expired-token');
  assert.is(r.detail.stage, 'rcpt');
  assert.is(r.subject_id, (await app.kernel.db('inbound_tokens').where({ subject_id: 'thread-old' }).first('id')).id);
  const raw = Buffer.from(`From: ben@northwind.example\r\nTo: ${address}\r\nSubject: Re\r\nMessage-ID: <late@x>\r\n\r\nLate reply.\r\n`);
  assert.equal(await app.kernel.inbound.receive(raw, { from: 'ben@northwind.example', to: [address] }), { ok: false, reason: 'expired-token' });
  assert.not.ok((await posts()).some((p: { subject_id: string }) => p.subject_id === 'thread-old'));
});

test('an unknown token is refused at RCPT and audited by its hash prefix; other addresses are simply not mailboxes here', async () => {
  const before = (await refusals()).length;
  const token = newInboundToken();
  const res = await send({ from: 'ada@northwind.example', to: `reply+${token}@${DOMAIN}`, text: 'Guess.' });
  assert.is(res.code, 550);
  const r = await lastRefusal();
  assert.is(r.detail.reason, 'unknown-token');
  assert.is(r.detail.tokenHash, sha256Hex(token).slice(0, 12));
  assert.is(r.workspace_id, null);
  for (const to of [`postmaster@${DOMAIN}`, `reply+short@${DOMAIN}`, `reply+${token}@other.example`]) {
    assert.is((await send({ from: 'ada@northwind.example', to, text: 'x' })).code, 550, to);
  }
  assert.is((await refusals()).length, before + 1, 'only the well-formed token was audited');
  // Handed over without an envelope, the address is read from the To header.
  const raw = Buffer.from(`From: ada@northwind.example\r\nTo: reply+${token}@${DOMAIN}\r\nSubject: Re\r\n\r\nGuess.\r\n`);
  assert.equal(await app.kernel.inbound.receive(raw), { ok: false, reason: 'unknown-token' });
});

test('an oversized message gets 552, is audited against the address, and nothing is posted', async () => {
  const address = await issue('ada', 'thread-big');
  const res = await send({ from: 'ada@northwind.example', to: address, text: 'A big scan.', attachments: [{ filename: 'scan.bin', content: Buffer.alloc(MAX_BYTES + 1024, 7) }] });
  assert.is(res.ok, false);
  assert.is(res.code, 552);
  const r = await lastRefusal();
  assert.is(r.detail.reason, 'too-large');
  assert.is(r.detail.userId, people.ada);
  assert.ok(Number(r.detail.bytes) > MAX_BYTES);
  assert.not.ok((await posts()).some((p: { subject_id: string }) => p.subject_id === 'thread-big'));
});

test("the handler's refusal is audited with its reason and rolls back; an empty reply is refused by the kernel", async () => {
  const address = await issue('ada', 'closed-thread');
  const res = await send({ from: 'ada@northwind.example', to: address, text: 'Is this still open?', messageId: '<closed-1@northwind.example>' });
  assert.is(res.code, 550);
  const r = await lastRefusal();
  assert.is(r.detail.reason, 'thread-closed');
  assert.is(r.detail.stage, 'handler');
  assert.is(r.detail.messageId, '<closed-1@northwind.example>');
  // The seen mark rolled back with the handler: the same message is refused again, not "duplicate".
  assert.is((await send({ from: 'ada@northwind.example', to: address, text: 'Is this still open?', messageId: '<closed-1@northwind.example>' })).code, 550);
  assert.is((await lastRefusal()).detail.reason, 'thread-closed');
  const open = await issue('ada', 'thread-empty');
  assert.is((await send({ from: 'ada@northwind.example', to: open, text: '> only the quote\n> of the notice\n' })).code, 550);
  assert.is((await lastRefusal()).detail.reason, 'empty');
});

test('an out-of-office reply is accepted quietly (no bounce), audited, and not posted', async () => {
  const address = await issue('ada', 'thread-ooo');
  const res = await send({ from: 'ada@northwind.example', to: address, text: 'I am away until Monday.', headers: { 'Auto-Submitted': 'auto-replied' } });
  assert.ok(res.ok, '250: an auto-responder must not get a bounce to answer');
  assert.is((await lastRefusal()).detail.reason, 'auto-reply');
  assert.not.ok((await posts()).some((p: { subject_id: string }) => p.subject_id === 'thread-ooo'));
});

test('a person who is disabled, or who left the workspace, or whose workspace is archived, can no longer reply', async () => {
  const cyAddress = await issue('cy', 'thread-cy');
  const doraAddress = await issue('dora', 'thread-dora');
  await app.kernel.db('users').where({ id: people.cy }).update({ disabled: true });
  assert.is((await send({ from: 'cy@northwind.example', to: cyAddress, text: 'Still here?' })).code, 550);
  assert.is((await lastRefusal()).detail.reason, 'person-disabled');
  await app.kernel.db('memberships').where({ user_id: people.dora, workspace_id: workspaceId }).delete();
  assert.is((await send({ from: 'dora@northwind.example', to: doraAddress, text: 'Hello?' })).code, 550);
  assert.is((await lastRefusal()).detail.reason, 'not-a-member');
  const benAddress = await issue('ben', 'thread-archived');
  await app.kernel.db('workspaces').where({ id: workspaceId }).update({ archived: true });
  try {
    assert.is((await send({ from: 'ben@northwind.example', to: benAddress, text: 'Hello?' })).code, 550);
    assert.is((await lastRefusal()).detail.reason, 'workspace-archived');
  } finally {
    await app.kernel.db('workspaces').where({ id: workspaceId }).update({ archived: false });
  }
});

test('HTML-only replies are read from the HTML, without the quoted block', async () => {
  const address = await issue('ben', 'thread-html');
  const res = await send({
    from: 'ben@northwind.example',
    to: address,
    html: '<div dir="ltr">Approved &amp; signed.</div><br><div class="gmail_quote"><div class="gmail_attr">On Thu, Dec 3, 2026 Harbor &amp; Vale LLP wrote:</div><blockquote>Please approve.</blockquote></div>',
  });
  assert.ok(res.ok, JSON.stringify(res));
  const post = (await posts()).find((p: { subject_id: string }) => p.subject_id === 'thread-html');
  assert.is(post.body, 'Approved & signed.');
});

test('registering a handler for the same plugin and purpose twice throws', () => {
  let err: (Error & { code?: string }) | undefined;
  try {
    app.kernel.inbound.register({ plugin: 'replies', purpose: 'comment', handle: async () => ({ ok: true }) });
  } catch (e) {
    err = e as Error & { code?: string };
  }
  assert.is(err?.code, 'ATR_INBOUND_DUPLICATE_HANDLER');
});

test('housekeeping deletes reply addresses (and their seen marks) a grace period after they expired', async () => {
  const before = Number((await app.kernel.db('inbound_tokens').count({ n: '*' }).first())!.n);
  assert.ok(Number((await app.kernel.db('inbound_seen').count({ n: '*' }).first())!.n) > 0);
  assert.is(await app.kernel.inbound.sweep(7 * 86_400_000), 0, 'nothing is old enough yet');
  clock.advance(38 * 86_400_000); // every address so far expired (30 days at most) over a week ago
  const fresh = await issue('ben', 'thread-later');
  const swept = await app.kernel.inbound.sweep(7 * 86_400_000);
  assert.is(swept, before);
  assert.is(Number((await app.kernel.db('inbound_seen').count({ n: '*' }).first())!.n), 0);
  assert.ok(await app.kernel.db('inbound_tokens').where({ token_hash: sha256Hex(/^reply\+([a-z2-7]{52})@/.exec(fresh)![1]!) }).first(), 'a live one stays');
});

test('no token appears in any audit row or log line', async () => {
  const tokens = issued.map((a) => /^reply\+([a-z2-7]{52})@/.exec(a)![1]!);
  assert.ok(tokens.length >= 10);
  const audit = await app.kernel.db('audit_events').select('detail', 'subject_id');
  const auditText = JSON.stringify(audit).toLowerCase();
  const logText = logLines.join('').toLowerCase();
  assert.ok(logText.includes('inbound reply refused'), 'the log was captured');
  for (const t of tokens) {
    assert.not.ok(auditText.includes(t), 'token in the audit log');
    assert.not.ok(logText.includes(t), 'token in a log line');
  }
});

test.run();
