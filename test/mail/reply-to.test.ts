// A queued message may carry a Reply-To (a reply-by-email address): it must be a plain
// single-line address, it reaches the composed message, and it is cleared from the outbox once
// delivered, like the one-time links in the body.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, type TestApp } from '../helpers/app.ts';
import { transaction } from '../../core/db/index.ts';
import { lastMailTo } from '../identity/support.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emlFileName } from '../../core/mail/transports.ts';
import { simpleParser } from 'mailparser';

const test = suite('mail reply-to');
let app: TestApp;

test.before(async () => {
  app = await startApp();
  await setupOwner(app);
});
test.after(async () => {
  await app.close();
});

test('a Reply-To with a line break, a display name or two addresses is refused at enqueue', async () => {
  for (const bad of ['a@x.example\r\nBcc: all@x.example', 'Ada <a@x.example>', 'a@x.example, b@x.example', '']) {
    const err = await transaction(app.kernel.db, (trx) => app.kernel.mail.enqueue(trx, { to: 'ada@acme.example', subject: 'x', text: 'x', replyTo: bad })).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    assert.ok(err, `refused: ${JSON.stringify(bad)}`);
    assert.is(err!.code, 'ATR_MAIL_ADDRESS');
  }
});

test('a notice with replyTo is mailed with that Reply-To, and the outbox forgets it once sent', async () => {
  const owner = await app.kernel.db('users').where({ email: 'owner@harbor.example' }).first('id');
  const replyTo = `reply+${'a'.repeat(52)}@reply.harbor.example`;
  await transaction(app.kernel.db, (trx) => app.kernel.notifications.notify(trx, [{ userId: owner.id, kind: 'core.test', subject: 'A reply-able notice', text: 'Reply to this mail.', replyTo }]));
  const mail = await lastMailTo(app, 'owner@harbor.example');
  assert.is(mail.subject, 'A reply-able notice');
  const row = await app.kernel.db('outbox').where({ message_id: mail.messageId }).first();
  assert.ok(row.sent_at);
  assert.is(row.reply_to, null, 'cleared after delivery');
  const parsed = await simpleParser(readFileSync(join(app.db.dataDir, 'mail', emlFileName(mail.messageId))));
  assert.is(parsed.replyTo?.value[0]?.address, replyTo);
  assert.is(parsed.replyTo?.value.length, 1);
});

test('a direct mail carries its Reply-To too; one without has no Reply-To header', async () => {
  const replyTo = `reply+${'b'.repeat(52)}@reply.harbor.example`;
  const withId = await transaction(app.kernel.db, (trx) => app.kernel.notifications.sendMail(trx, { to: 'ben@acme.example', name: 'Ben', subject: 'Direct', paragraphs: ['Hi'], replyTo }));
  const withoutId = await transaction(app.kernel.db, (trx) => app.kernel.notifications.sendMail(trx, { to: 'cy@acme.example', name: 'Cy', subject: 'Direct', paragraphs: ['Hi'] }));
  await lastMailTo(app, 'ben@acme.example');
  await lastMailTo(app, 'cy@acme.example');
  const a = await simpleParser(readFileSync(join(app.db.dataDir, 'mail', emlFileName(withId))));
  const b = await simpleParser(readFileSync(join(app.db.dataDir, 'mail', emlFileName(withoutId))));
  assert.is(a.replyTo?.value[0]?.address, replyTo);
  assert.is(b.replyTo, undefined);
});

test.run();
