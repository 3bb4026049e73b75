// Password reset, replayed as attacks (SECURITY.md controls 6, 7, 13-15; osTicket CVE-2026-26895,
// reset-link host poisoning, NC-SA-2020-001).
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startApp, setupOwner, DEMO_PASSWORD, type TestApp } from '../helpers/app.ts';
import { ManualClock } from '../../core/clock.ts';
import { seedDemo } from '../../core/demo.ts';
import type { HttpClient } from '../helpers/http.ts';
import { lastMailTo, linkIn, mailsTo, pathOf } from './support.ts';

const test = suite('password reset');
let app: TestApp;
const clock = new ManualClock(Date.UTC(2026, 10, 28, 9, 0, 0));
const logLines: string[] = [];
const NEW_PASSWORD = 'a lighthouse keeper counts gulls';

async function requestReset(c: HttpClient, email: string, headers?: Record<string, string>) {
  await c.get('/password/forgot');
  return c.postForm('/password/forgot', { email }, { headers });
}
async function resetLinkFor(email: string): Promise<string> {
  return pathOf(linkIn((await lastMailTo(app, email)).text, '/password/reset/'));
}
const outboxCount = async (to: string) => Number(((await app.kernel.db('outbox').where({ to_address: to }).count({ n: '*' }).first()) as { n: number | string }).n);
const clearThrottle = () => app.kernel.db('throttle').delete();

test.before(async () => {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  app = await startApp({ clock, logger: pino({ level: 'info' }, sink) });
  await setupOwner(app);
  await seedDemo(app.kernel, { actorId: null }, DEMO_PASSWORD);
});
test.after(async () => {
  await app.close();
});

test('known and unknown emails get the same reply, status and (near) the same time; only the known one gets mail', async () => {
  await clearThrottle();
  const known = ['ada@northwind.example', 'ben@northwind.example', 'cara@globex.example', 'sam.staff@firm.example', 'owner@harbor.example'];
  const unknown = known.map((e) => `nobody.${e}`);
  const normalise = (t: string) => t.replace(/content="[^"]+"|value="[A-Za-z0-9_-]{43}"|nonce="[^"]+"|<strong>[^<]*@[^<]*<\/strong>/g, '');
  const times: { known: number[]; unknown: number[] } = { known: [], unknown: [] };
  let first: { known?: string; unknown?: string } = {};
  for (let i = 0; i < known.length; i++) {
    for (const kind of ['known', 'unknown'] as const) {
      const c = app.client();
      await c.get('/password/forgot');
      const started = performance.now();
      const res = await c.postForm('/password/forgot', { email: kind === 'known' ? known[i]! : unknown[i]! });
      times[kind].push(performance.now() - started);
      assert.is(res.status, 200);
      first[kind] ??= normalise(res.text);
    }
  }
  assert.is(first.known, first.unknown, 'same page');
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  assert.ok(Math.abs(median(times.known) - median(times.unknown)) < 50, `median gap ${median(times.known)} vs ${median(times.unknown)}`);
  assert.is(await outboxCount('ada@northwind.example'), 1);
  assert.is(await outboxCount(unknown[0]!), 0);
  first = {};
});

test('reset-link host poisoning: Host and X-Forwarded-Host are ignored; the link uses the configured base URL', async () => {
  await clearThrottle();
  const c = app.client();
  await c.get('/password/forgot');
  const body = new URLSearchParams({ _csrf: c.csrf!, email: 'cara@globex.example' }).toString();
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      `${app.url}/password/forgot`,
      { method: 'POST', headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'content-type': 'application/x-www-form-urlencoded', cookie: `atrium_sid=${c.sessionCookie()}` } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  assert.is(status, 200);
  const text = (await lastMailTo(app, 'cara@globex.example')).text;
  assert.not.match(text, 'evil.example');
  assert.ok(linkIn(text, '/password/reset/').startsWith('http://127.0.0.1:3000/password/reset/'));
});

test('the link shows a form (a GET spends nothing) with Referrer-Policy: no-referrer; weak passwords are refused beside the field', async () => {
  await clearThrottle();
  const c = app.client();
  await requestReset(c, 'ben@northwind.example');
  const link = await resetLinkFor('ben@northwind.example');
  for (let i = 0; i < 2; i++) {
    const page = await c.get(link);
    assert.is(page.status, 200, 'a mail scanner opening the link does not burn it');
    assert.is(page.headers.get('referrer-policy'), 'no-referrer');
    assert.match(page.text, `action="${link}"`);
    assert.match(page.text, 'method="post"');
  }
  for (const weak of ['Password1', 'Harbor & Vale LLP 1', 'password1234', 'benhowell-secret', 'aaaaaaaaaaaaaaaa']) {
    const res = await c.postForm(link, { password: weak, confirm: weak });
    assert.is(res.status, 400, weak);
    assert.match(res.text, 'id="password-error"');
  }
  const mismatch = await c.postForm(link, { password: NEW_PASSWORD, confirm: `${NEW_PASSWORD}!` });
  assert.match(mismatch.text, 'id="confirm-error"');
  const huge = await c.postForm(link, { password: 'x'.repeat(1024 * 1024), confirm: 'x' });
  assert.is(huge.status, 413, 'a 1 MiB password is refused before hashing');
  assert.is((await c.get(link)).status, 200, 'still usable after bad input');
});

test('a reset ends every session, signs nobody in, and the link works once (reuse: 410)', async () => {
  await clearThrottle();
  const elsewhere = app.client();
  assert.is((await elsewhere.login('ben@northwind.example', DEMO_PASSWORD)).status, 303);
  const c = app.client();
  await requestReset(c, 'ben@northwind.example');
  const link = await resetLinkFor('ben@northwind.example');
  await c.get(link);
  const done = await c.postForm(link, { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  assert.is(done.status, 303);
  assert.is(done.location, '/login');
  c.csrf = undefined;
  assert.is((await c.get('/w/northwind/')).location, '/login?next=%2Fw%2Fnorthwind%2F', 'not signed in by the reset');
  assert.is((await elsewhere.get('/w/northwind/')).status, 302, 'the other session ended');
  assert.is((await c.get(link)).status, 410);
  const again = app.client();
  await again.get('/login');
  assert.is((await again.postForm(link, { password: NEW_PASSWORD, confirm: NEW_PASSWORD })).status, 410);
  assert.is((await again.login('ben@northwind.example', NEW_PASSWORD)).status, 303);
  assert.is((await lastMailTo(app, 'ben@northwind.example')).subject, 'Your password was changed');
  const stored = await app.kernel.db('password_resets').select('token_hash');
  assert.ok(stored.every((r: { token_hash: string }) => /^[0-9a-f]{64}$/.test(r.token_hash)), 'only hashes are stored');
  const outbox = await app.kernel.db('outbox').where({ to_address: 'ben@northwind.example', subject: 'Reset your password' }).pluck('text_body');
  assert.ok(outbox.every((t: string) => !/\/password\/reset\/[A-Za-z0-9_-]{43}/.test(t)), 'sent mail keeps no usable link');
});

test('a link expires after 60 minutes, and is voided by a newer link, a sign-in or a password change (410)', async () => {
  await clearThrottle();
  const c = app.client();
  await requestReset(c, 'cara@globex.example');
  const old = await resetLinkFor('cara@globex.example');
  clock.advance(61 * 60_000);
  assert.is((await c.get(old)).status, 410, '61 minutes');
  await clearThrottle();
  await requestReset(c, 'cara@globex.example');
  const superseded = await resetLinkFor('cara@globex.example');
  await requestReset(c, 'cara@globex.example');
  const newest = await resetLinkFor('cara@globex.example');
  assert.is((await c.get(superseded)).status, 410, 'superseded');
  const login = app.client();
  assert.is((await login.login('cara@globex.example', DEMO_PASSWORD)).status, 303);
  assert.is((await c.get(newest)).status, 410, 'voided by a sign-in');
  await clearThrottle();
  await requestReset(c, 'cara@globex.example');
  const beforeChange = await resetLinkFor('cara@globex.example');
  await login.get('/account/password');
  const changed = await login.postForm('/account/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  assert.is(changed.status, 303);
  assert.is((await c.get(beforeChange)).status, 410, 'voided by a password change');
});

test('requests are throttled per email (3/h) and per IP (20/h) with the same reply and no mail', async () => {
  await clearThrottle();
  const c = app.client();
  const before = await outboxCount('sam.staff@firm.example');
  const replies: string[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await requestReset(c, 'sam.staff@firm.example');
    assert.is(res.status, 200);
    replies.push(res.text.replace(/content="[^"]+"|value="[A-Za-z0-9_-]{43}"|nonce="[^"]+"/g, ''));
  }
  assert.is(new Set(replies).size, 1, 'the 4th reply looks like the others');
  assert.is((await outboxCount('sam.staff@firm.example')) - before, 3, 'the 4th queued nothing');
  await clearThrottle();
  for (let i = 0; i < 20; i++) await requestReset(c, `someone${i}@nowhere.example`);
  const owner = await outboxCount('owner@harbor.example');
  assert.is((await requestReset(c, 'owner@harbor.example')).status, 200);
  assert.is(await outboxCount('owner@harbor.example'), owner, 'the 21st from this IP queued nothing');
  clock.advance(61 * 60_000);
  await requestReset(c, 'owner@harbor.example');
  assert.is(await outboxCount('owner@harbor.example'), owner + 1, 'an hour later it works again');
  assert.ok((await mailsTo(app, 'owner@harbor.example')).length >= 1);
});

test('tokens never reach the logs', async () => {
  const all = logLines.join('');
  assert.match(all, '/password/reset/[token]');
  assert.not.match(all, /\/password\/reset\/[A-Za-z0-9_-]{43}/);
});

test.run();
