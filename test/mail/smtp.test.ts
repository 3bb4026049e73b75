// The SMTP transport against a real `smtp-server` on 127.0.0.1, parsed with mailparser: the
// envelope, the headers (From with the firm name, a stable Message-ID), text and HTML parts;
// and a server that is down leaves the message queued for a retry.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type AddressInfo } from 'node:net';
import pino from 'pino';
import { startApp, setupOwner, type TestApp } from '../helpers/app.ts';
import { transaction } from '../../core/db/index.ts';
import { renderMail } from '../../core/mail/templates.ts';
import { MailWorker } from '../../core/mail/worker.ts';
import { SmtpTransport } from '../../core/mail/transports.ts';
import { flushMail, parse, SMTP_CONFIG, startSmtp } from '../identity/support.ts';

const test = suite('smtp');
let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtp>>;

test.before(async () => {
  smtp = await startSmtp();
  app = await startApp({ overrides: SMTP_CONFIG(smtp.port) });
  await setupOwner(app);
});
test.after(async () => {
  await app.close();
  await smtp.close();
});

test('a queued message reaches the SMTP server whole, with the stored Message-ID', async () => {
  const body = renderMail({ greeting: 'Hello Zoë,', paragraphs: ['Your <documents> & "files" are ready.'], action: { label: 'Open', url: 'http://127.0.0.1:3000/w/acme/' }, signature: 'Harbor & Vale LLP' });
  const messageId = await transaction(app.kernel.db, (trx) => app.kernel.mail.enqueue(trx, { to: 'zoe@acme.example', subject: 'Dokumente bereit — ready', text: body.text, html: body.html }));
  await flushMail(app);
  const got = smtp.received.find((m) => m.to.includes('zoe@acme.example'));
  assert.ok(got, 'received');
  assert.is(got!.from, 'portal@harbor.example');
  const mail = await parse(got!.raw);
  assert.is(mail.messageId, messageId);
  assert.is(mail.subject, 'Dokumente bereit — ready');
  assert.is(mail.from?.value[0]?.name, 'Harbor & Vale LLP');
  assert.is(mail.from?.value[0]?.address, 'portal@harbor.example');
  assert.match(mail.text ?? '', 'Your <documents> & "files" are ready.');
  assert.match(String(mail.html), 'Your &lt;documents&gt; &amp; &quot;files&quot; are ready.', 'HTML part escaped');
  assert.match(String(mail.html), 'href="http://127.0.0.1:3000/w/acme/"');
  assert.is(mail.headers.get('auto-submitted'), 'auto-generated');
  const row = await app.kernel.db('outbox').where({ message_id: messageId }).first();
  assert.ok(row.sent_at);
  assert.is(Number(row.attempts), 1);
});

test('a server that refuses connections leaves the message queued with the error, for a later retry', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as AddressInfo).port;
  await new Promise<void>((r) => blocker.close(() => r()));
  const config = { ...app.kernel.config, mail: { ...app.kernel.config.mail, smtp: { ...app.kernel.config.mail.smtp, port } } };
  await app.kernel.mailWorker.stop();
  try {
    const id = await transaction(app.kernel.db, (trx) => app.kernel.mail.enqueue(trx, { to: 'yan@acme.example', subject: 'Down', text: 'x' }));
    const worker = new MailWorker(config, app.kernel.db, app.kernel.clock, pino({ level: 'silent' }), app.kernel.branding, new SmtpTransport(config.mail.smtp));
    await worker.runOnce();
    const row = await app.kernel.db('outbox').where({ message_id: id }).first();
    assert.is(row.sent_at, null);
    assert.is(Number(row.attempts), 1);
    assert.match(row.last_error, /ECONNREFUSED|connect/i);
    assert.ok(Number(row.next_attempt_at) > app.kernel.clock.now());
  } finally {
    app.kernel.mailWorker.start();
  }
});

test.run();
