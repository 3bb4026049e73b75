// The kernel's outbox (SECURITY.md controls 46, 47): mail is written in the causing transaction
// and delivered at least once by the worker, with a stable Message-ID, retries with backoff,
// claims that hold across processes, and strict header checks. Also the admin outbox page.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startApp, setupOwner, freshDatabase, DEMO_PASSWORD, type TestApp, type TestDb } from '../helpers/app.ts';
import { ManualClock } from '../../core/clock.ts';
import { seedDemo } from '../../core/demo.ts';
import { transaction, createDb } from '../../core/db/index.ts';
import { MailWorker, CLAIM_MS, backoffMs } from '../../core/mail/worker.ts';
import { emlFileName, type MailTransport, type ComposedMail } from '../../core/mail/transports.ts';
import { flushMail } from '../identity/support.ts';

const test = suite('outbox');
const clock = new ManualClock(Date.UTC(2026, 10, 28, 9, 0, 0));
let db: TestDb;
let app: TestApp;

async function queue(a: TestApp, to: string, subject = 'Hello', text = 'Body'): Promise<string> {
  return transaction(a.kernel.db, (trx) => a.kernel.mail.enqueue(trx, { to, subject, text }));
}
async function rejects(fn: () => Promise<unknown>, pattern: RegExp, label?: string): Promise<void> {
  try {
    await fn();
  } catch (err) {
    assert.match(String((err as Error).message), pattern, label);
    return;
  }
  assert.unreachable(`expected a rejection: ${label ?? ''}`);
}
const mailDir = () => join(db.dataDir, 'mail');
const emls = () => (existsSync(mailDir()) ? readdirSync(mailDir()).filter((f) => f.endsWith('.eml')) : []);

class Recording implements MailTransport {
  readonly kind = 'recording';
  sent: string[] = [];
  constructor(private readonly fail?: string) {}
  async send(_raw: Buffer, mail: ComposedMail): Promise<void> {
    await new Promise((r) => setTimeout(r, 2));
    if (this.fail) throw new Error(this.fail);
    this.sent.push(mail.messageId);
  }
}

test.before(async () => {
  db = await freshDatabase();
  app = await startApp({ clock, db, overrides: { mail: { maxAttempts: 3 } } });
  await setupOwner(app);
  await seedDemo(app.kernel, { actorId: null }, DEMO_PASSWORD);
});
test.after(async () => {
  await app.close();
  await db.drop();
});

test('a rolled-back change queues no mail', async () => {
  const before = await app.kernel.db('outbox').count({ n: '*' }).first();
  await transaction(app.kernel.db, async (trx) => {
    await app.kernel.mail.enqueue(trx, { to: 'ada@northwind.example', subject: 'Never', text: 'never sent' });
    throw new Error('the change failed after queueing its mail');
  }).catch(() => {});
  assert.equal(await app.kernel.db('outbox').count({ n: '*' }).first(), before);
  await flushMail(app);
  assert.not.ok(await app.kernel.db('outbox').where({ subject: 'Never' }).first());
});

test('a mail survives a crash between commit and send, and is sent exactly once after the restart', async () => {
  await app.kernel.mailWorker.stop(); // the "crash": nothing will deliver before the process is gone
  const messageId = await queue(app, 'ben@northwind.example', 'Survivor', 'queued before the crash');
  await app.close();
  const row = async (a: TestApp) => a.kernel.db('outbox').where({ message_id: messageId }).first();
  app = await startApp({ clock, db, overrides: { mail: { maxAttempts: 3 } } });
  assert.ok(await row(app), 'still queued after the restart');
  await flushMail(app);
  const sent = await row(app);
  assert.ok(sent.sent_at, 'sent after the restart');
  assert.is(Number(sent.attempts), 1);
  assert.is(emls().filter((f) => f === emlFileName(messageId)).length, 1);
  await app.close();
  app = await startApp({ clock, db, overrides: { mail: { maxAttempts: 3 } } });
  await flushMail(app);
  assert.is(Number((await row(app)).attempts), 1, 'not sent again by the next start');
});

test('the file transport writes whole files (temp -> fsync -> rename), readable by the owner only', async () => {
  const id = await queue(app, 'cara@globex.example', 'File check', 'x'.repeat(10_000));
  await flushMail(app);
  const file = join(mailDir(), emlFileName(id));
  assert.ok(existsSync(file));
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.is(readdirSync(mailDir()).filter((f) => f.endsWith('.tmp')).length, 0, 'no temp files left');
});

test('a worker that died after claiming: the claim expires and the same Message-ID is sent again (at least once)', async () => {
  await app.kernel.mailWorker.stop();
  const id = await queue(app, 'ada@northwind.example', 'Claimed', 'claimed by a dead worker');
  const dead = new MailWorker(app.kernel.config, app.kernel.db, clock, pino({ level: 'silent' }), app.kernel.branding, new Recording());
  const { rows } = await dead.claim();
  assert.ok(rows.some((r) => r.message_id === id));
  const live = new Recording();
  const worker = new MailWorker(app.kernel.config, app.kernel.db, clock, pino({ level: 'silent' }), app.kernel.branding, live);
  await worker.runOnce();
  assert.not.ok(live.sent.includes(id), 'the claim holds');
  clock.advance(CLAIM_MS + 1000);
  await worker.runOnce();
  assert.equal(live.sent.filter((m) => m === id), [id], 'sent with the stored Message-ID');
  app.kernel.mailWorker.start();
});

test('two workers (two pools, as two processes) never send the same message twice', async () => {
  await app.kernel.mailWorker.stop();
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) ids.push(await queue(app, `person${i}@northwind.example`, `Bulk ${i}`));
  const otherDb = createDb(app.kernel.config);
  try {
    const a = new Recording();
    const b = new Recording();
    const wa = new MailWorker(app.kernel.config, app.kernel.db, clock, pino({ level: 'silent' }), app.kernel.branding, a);
    const wb = new MailWorker(app.kernel.config, otherDb, clock, pino({ level: 'silent' }), app.kernel.branding, b);
    await Promise.all([wa.runOnce(), wb.runOnce(), wa.runOnce(), wb.runOnce()]);
    const all = [...a.sent, ...b.sent].filter((m) => ids.includes(m));
    assert.is(all.length, 50);
    assert.is(new Set(all).size, 50, 'no duplicates: each of 50 sent exactly once');
  } finally {
    await otherDb.destroy();
    app.kernel.mailWorker.start();
  }
});

test('failures are retried with exponential backoff, then marked failed; the admin page shows it', async () => {
  await app.kernel.mailWorker.stop();
  const id = await queue(app, 'ben@northwind.example', 'Flaky', 'to a down server');
  const worker = new MailWorker(app.kernel.config, app.kernel.db, clock, pino({ level: 'silent' }), app.kernel.branding, new Recording('connect ECONNREFUSED 127.0.0.1:25'));
  await worker.runOnce();
  let row = await app.kernel.db('outbox').where({ message_id: id }).first();
  assert.is(Number(row.attempts), 1);
  assert.is(Number(row.next_attempt_at), clock.now() + backoffMs(1));
  assert.match(row.last_error, 'ECONNREFUSED');
  await worker.runOnce();
  assert.is(Number((await app.kernel.db('outbox').where({ message_id: id }).first()).attempts), 1, 'not before its time');
  clock.advance(backoffMs(1));
  await worker.runOnce();
  row = await app.kernel.db('outbox').where({ message_id: id }).first();
  assert.is(Number(row.next_attempt_at), clock.now() + backoffMs(2));
  assert.is(backoffMs(2), 2 * backoffMs(1));
  clock.advance(backoffMs(2));
  await worker.runOnce();
  row = await app.kernel.db('outbox').where({ message_id: id }).first();
  assert.is(Number(row.attempts), 3);
  assert.ok(row.failed_at, 'failed after mail.maxAttempts');
  clock.advance(backoffMs(3));
  await worker.runOnce();
  assert.is(Number((await app.kernel.db('outbox').where({ message_id: id }).first()).attempts), 3, 'a failed message is left alone');
  app.kernel.mailWorker.start();

  const owner = app.client();
  await owner.login('owner@harbor.example', 'correct-horse-battery-staple');
  const page = await owner.get('/admin/mail');
  assert.is(page.status, 200);
  assert.match(page.text, 'Flaky');
  assert.match(page.text, 'Failed');
  assert.match(page.text, 'ECONNREFUSED');
  const client = app.client();
  await client.login('ada@northwind.example', DEMO_PASSWORD);
  assert.is((await client.get('/admin/mail')).status, 404, 'clients never see the outbox');
});

test('the admin message view shows the text but never a one-time link', async () => {
  const c = app.client();
  await c.get('/password/forgot');
  await c.postForm('/password/forgot', { email: 'cara@globex.example' });
  const row = await app.kernel.db('outbox').where({ to_address: 'cara@globex.example', subject: 'Reset your password' }).orderBy('created_at', 'desc').first();
  const owner = app.client();
  await owner.login('owner@harbor.example', 'correct-horse-battery-staple');
  const page = await owner.get(`/admin/mail/${row.id}`);
  assert.is(page.status, 200);
  assert.match(page.text, 'Someone asked to reset the password');
  assert.match(page.text, '/password/reset/[link removed]');
  assert.not.match(page.text, /\/password\/reset\/[A-Za-z0-9_-]{43}/);
  assert.is((await owner.get('/admin/mail/not-a-message')).status, 404);
});

test('header injection and quoted or decorated addresses are refused before anything is queued', async () => {
  for (const to of ['Bob\r\nBcc: x@evil.example', '"a@evil.com x"@corp.example', 'Bob <bob@corp.example>', 'bob@corp.example, eve@evil.example', 'bob@localhost', 'a@b@c.example']) {
    await rejects(() => queue(app, to), /ATR_MAIL_ADDRESS/, to);
  }
  await rejects(() => queue(app, 'bob@corp.example', 'Hi\r\nBcc: x@evil.example'), /ATR_MAIL_ADDRESS/);
  assert.not.ok(await app.kernel.db('outbox').where({ to_address: 'bob@corp.example' }).first());
});

test.run();
