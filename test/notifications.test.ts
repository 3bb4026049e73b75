// Notifications honour each person's preference: at once, a daily digest, or off; and a
// rolled-back change notifies no one.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, type TestApp } from './helpers/app.ts';
import { seedDemo } from '../core/demo.ts';
import { transaction } from '../core/db/index.ts';
import { ManualClock } from '../core/clock.ts';
import { Tokens } from '../core/container.ts';

const test = suite('notifications');
const PW = 'demo-password-for-tests';
const clock = new ManualClock(Date.UTC(2026, 10, 27, 9, 0, 0));
let app: TestApp;
let ada: string;
let ben: string;
let cara: string;

test.before(async () => {
  app = await startApp({ clock });
  await setupOwner(app);
  await seedDemo(app.kernel, { actorId: null }, PW);
  const ids = await app.kernel.db('users').whereIn('email', ['ada@northwind.example', 'ben@northwind.example', 'cara@globex.example']).select('id', 'email');
  const by = (e: string) => ids.find((r: { email: string }) => r.email === e)!.id as string;
  [ada, ben, cara] = [by('ada@northwind.example'), by('ben@northwind.example'), by('cara@globex.example')];
});
test.after(async () => {
  await app.close();
});

const outboxTo = async (email: string) => (await app.kernel.db('outbox').where({ to_address: email }).orderBy('created_at').select('subject', 'text_body')) as Array<{ subject: string; text_body: string }>;

test('a person chooses their preference on /account/notifications; bad input is refused beside the field', async () => {
  const c = app.client();
  await c.login('ben@northwind.example', PW);
  const page = await c.get('/account/notifications');
  assert.is(page.status, 200);
  assert.match(page.text, 'value="immediately" aria-describedby="pref-immediately-hint" checked');
  const bad = await c.postForm('/account/notifications', { pref: 'hourly' });
  assert.is(bad.status, 400);
  assert.match(bad.text, 'id="pref-error"');
  assert.is((await c.postForm('/account/notifications', { pref: 'digest' })).status, 303);
  assert.is((await app.kernel.db('users').where({ id: ben }).first('notify_pref')).notify_pref, 'digest');
  assert.ok(await app.kernel.db('audit_events').where({ action: 'core.notifications.update', subject_id: ben }).first());
  await app.kernel.db('users').where({ id: cara }).update({ notify_pref: 'off' });
  assert.is((await app.client().get('/account/notifications')).status, 302, 'signed-out visitors are sent to sign in');
});

test('immediately: one mail per notice with an absolute link; digest: nothing yet; off: never', async () => {
  const svc = app.kernel.container.resolve(Tokens.Notifications);
  await transaction(app.kernel.db, (trx) =>
    svc.notify(trx, [
      { userId: ada, kind: 'test.thing', subject: 'New deliverable: Q3 report', text: 'Q3 report.pdf is ready.', link: '/w/northwind/' },
      { userId: ben, kind: 'test.thing', subject: 'New deliverable: Q3 report', text: 'Q3 report.pdf is ready.', link: '/w/northwind/' },
      { userId: cara, kind: 'test.thing', subject: 'Unrelated', text: 'x' },
    ]),
  );
  const adaMail = await outboxTo('ada@northwind.example');
  assert.is(adaMail.length, 1);
  assert.is(adaMail[0]!.subject, 'New deliverable: Q3 report');
  assert.match(adaMail[0]!.text_body, 'http://127.0.0.1:3000/w/northwind/');
  assert.is((await outboxTo('ben@northwind.example')).length, 0);
  assert.is((await outboxTo('cara@globex.example')).length, 0);
  assert.equal((await app.kernel.db('notifications').where({ user_id: cara }).pluck('state')), ['muted']);
});

test('a secret mail link goes only into the immediate mail: never into the notice on record, and scrubbed from the outbox once delivered', async () => {
  const svc = app.kernel.container.resolve(Tokens.Notifications);
  const secret = 'http://127.0.0.1:3000/l/approvals/' + 'S'.repeat(43);
  await transaction(app.kernel.db, (trx) =>
    svc.notify(trx, [{ userId: ada, kind: 'test.secret', subject: 'Decide please', text: 'One click.', link: '/w/northwind/', mailLink: { url: secret, label: 'Review and decide' } }]),
  );
  // By subject, not position: two mails queued in the same millisecond have no order on PostgreSQL.
  const mail = (await outboxTo('ada@northwind.example')).find((m) => m.subject === 'Decide please');
  assert.ok(mail, 'the mail was queued');
  assert.match(mail!.text_body, secret, 'the queued mail carries the link');
  assert.not.match(mail!.text_body, 'http://127.0.0.1:3000/w/northwind/');
  const stored = await app.kernel.db('notifications').where({ user_id: ada, kind: 'test.secret' }).first('link', 'body');
  assert.is(stored.link, '/w/northwind/');
  assert.not.match(JSON.stringify(await app.kernel.db('notifications').select('*')), 'SSSSSSSS');
  await app.kernel.mailWorker.runOnce();
  await app.kernel.mailWorker.idle();
  const sent = await app.kernel.db('outbox').where({ to_address: 'ada@northwind.example', subject: 'Decide please' }).first('text_body', 'sent_at');
  assert.ok(sent.sent_at, 'delivered');
  assert.not.match(sent.text_body, 'SSSSSSSS');
  assert.match(sent.text_body, '/l/approvals/[link removed]');
});

test('a rolled-back change notifies no one', async () => {
  const svc = app.kernel.container.resolve(Tokens.Notifications);
  const before = Number((await app.kernel.db('outbox').count({ n: '*' }).first())!.n);
  await transaction(app.kernel.db, async (trx) => {
    await svc.notify(trx, [{ userId: ada, kind: 'test.thing', subject: 'Doomed', text: 'never' }]);
    throw new Error('roll back');
  }).catch(() => {});
  assert.is(Number((await app.kernel.db('outbox').count({ n: '*' }).first())!.n), before);
  assert.not.ok(await app.kernel.db('notifications').where({ subject: 'Doomed' }).first());
});

test('the digest gathers pending notices into one mail, at most once a day, and only once with two runners', async () => {
  const svc = app.kernel.container.resolve(Tokens.Notifications);
  await transaction(app.kernel.db, (trx) => svc.notify(trx, [{ userId: ben, kind: 'test.thing', subject: 'Approval requested', text: 'Engagement letter', link: '/w/northwind/' }]));
  const [a, b] = await Promise.all([svc.sendDigests(app.kernel.db), svc.sendDigests(app.kernel.db)]);
  assert.is(a + b, 1, 'two runners race: one digest');
  const mails = await outboxTo('ben@northwind.example');
  assert.is(mails.length, 1);
  assert.match(mails[0]!.subject, 'daily summary');
  assert.match(mails[0]!.text_body, 'New deliverable: Q3 report');
  assert.match(mails[0]!.text_body, 'Approval requested');
  assert.equal([...new Set(await app.kernel.db('notifications').where({ user_id: ben }).pluck('state'))], ['digested']);

  await transaction(app.kernel.db, (trx) => svc.notify(trx, [{ userId: ben, kind: 'test.thing', subject: 'Message from your team', text: 'hi' }]));
  clock.advance(23 * 3_600_000);
  assert.is(await svc.sendDigests(app.kernel.db), 0, 'not before a day has passed');
  clock.advance(2 * 3_600_000);
  assert.is(await svc.sendDigests(app.kernel.db), 1);
  assert.is((await outboxTo('ben@northwind.example')).length, 2);
});

test.run();
