// The "done when" walk, browser-free: the owner invites a client by email, the mail is
// captured from a real SMTP server (nodemailer -> smtp-server on 127.0.0.1), the client accepts,
// enrols TOTP, signs out, signs in with password + TOTP, and uses a recovery code once (a second
// use fails).
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, type TestApp } from '../helpers/app.ts';
import { ManualClock } from '../../core/clock.ts';
import { code, enrolFromAccount, flushMail, linkIn, parse, pathOf, SMTP_CONFIG, startSmtp } from './support.ts';

const test = suite('onboarding');
let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
const clock = new ManualClock(Date.UTC(2026, 10, 28, 9, 0, 0));
const PASSWORD = 'blue kettle on a quiet sunday';

test.before(async () => {
  smtp = await startSmtp();
  app = await startApp({ clock, overrides: SMTP_CONFIG(smtp.port) });
});
test.after(async () => {
  await app.close();
  await smtp.close();
});

test('owner invites a client, who accepts, enrols TOTP, signs in with it and spends a recovery code once', async () => {
  const { client: owner } = await setupOwner(app);
  await owner.get('/staff/');
  assert.is((await owner.postForm('/admin/workspaces', { name: 'Acme Holdings', slug: 'acme' })).status, 303);

  // 1. The invitation.
  assert.is((await owner.get('/w/acme/invitations')).status, 200);
  const sent = await owner.postForm('/w/acme/invitations', { email: 'Jo@Acme.example', role: 'client_admin' });
  assert.is(sent.status, 303);
  await flushMail(app);
  const mails = smtp.received.filter((m) => m.to.includes('jo@acme.example'));
  assert.is(mails.length, 1, 'one message reached the SMTP server');
  const mail = await parse(mails[0]!.raw);
  assert.is(mail.subject, 'You are invited to Acme Holdings');
  assert.match(mail.from?.text ?? '', 'portal@harbor.example');
  const row = await app.kernel.db('outbox').where({ to_address: 'jo@acme.example' }).first();
  assert.is(mail.messageId, row.message_id, 'the Message-ID is the one stored in the outbox');
  const link = linkIn(mail.text ?? '', '/invite/');
  assert.ok(link.startsWith('http://127.0.0.1:3000/invite/'), 'built from the configured base URL');

  // 2. Accepting: the GET shows a page and spends nothing; the POST creates the account.
  const jo = app.client();
  const page = await jo.get(pathOf(link));
  assert.is(page.status, 200);
  assert.match(page.text, 'Join Acme Holdings');
  assert.is(page.headers.get('referrer-policy'), 'no-referrer');
  const accepted = await jo.postForm(pathOf(link), { name: 'Jo Client', password: PASSWORD, confirm: PASSWORD });
  assert.is(accepted.status, 303);
  assert.is(accepted.location, '/w/acme/');
  jo.csrf = undefined;
  assert.is((await jo.get('/w/acme/')).status, 200);
  const user = await app.kernel.db('users').where({ email: 'jo@acme.example' }).first();
  assert.is(user.firm_role, null);
  assert.is((await app.kernel.db('memberships').where({ user_id: user.id }).first()).role, 'client_admin');

  // 3. Enrolling TOTP from the account page (the sign-in is fresh, so no re-authentication).
  const { secret, codes } = await enrolFromAccount(app, jo, PASSWORD);
  assert.is(codes.length, 10);
  await jo.postForm('/logout', {});

  // 4. Password, then TOTP.
  const first = await jo.login('jo@acme.example', PASSWORD);
  assert.is(first.location, '/login/mfa');
  assert.is((await jo.get('/w/acme/')).location, '/login/mfa', 'half signed in: only the challenge');
  await jo.get('/login/mfa');
  clock.advance(30_000);
  const second = await jo.postForm('/login/mfa', { code: code(app, secret) });
  assert.is(second.status, 303);
  jo.csrf = undefined;
  assert.is((await jo.get('/w/acme/')).status, 200);
  await jo.postForm('/logout', {});

  // 5. A recovery code works once.
  await jo.login('jo@acme.example', PASSWORD);
  await jo.get('/login/mfa');
  const withCode = await jo.postForm('/login/mfa', { code: codes[0]!.toLowerCase() });
  assert.is(withCode.status, 303);
  jo.csrf = undefined;
  assert.is((await jo.get('/w/acme/')).status, 200);
  await jo.postForm('/logout', {});
  await jo.login('jo@acme.example', PASSWORD);
  await jo.get('/login/mfa');
  const again = await jo.postForm('/login/mfa', { code: codes[0]! });
  assert.is(again.status, 401, 'a recovery code is single use');
  jo.csrf = undefined;
  assert.is((await jo.get('/w/acme/')).location, '/login/mfa');
});

test.run();
