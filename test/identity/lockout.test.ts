// Brute force, replayed as attacks (SECURITY.md controls 17, 18 and section 3): lockouts kept in
// the database per (account, IP), per IP and per account; client IPs only from trusted proxies,
// IPv6 by /56; hashing concurrency bounded.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { availableParallelism } from 'node:os';
import { startApp, setupOwner, freshDatabase, DEMO_PASSWORD, type TestApp, type TestDb } from '../helpers/app.ts';
import { ManualClock } from '../../core/clock.ts';
import { seedDemo } from '../../core/demo.ts';
import { ipKey } from '../../core/identity/throttle.ts';

const test = suite('lockout');
const clock = new ManualClock(Date.UTC(2026, 10, 28, 9, 0, 0));
let db: TestDb;
let app: TestApp;
let proxied: TestApp;
const MIN = 60_000;

async function attempt(a: TestApp, email: string, password: string, xff?: string) {
  const c = a.client();
  await c.get('/login');
  return c.postForm('/login', { email, password }, { headers: xff ? { 'x-forwarded-for': xff } : {} });
}

test.before(async () => {
  db = await freshDatabase();
  app = await startApp({ clock, db });
  await setupOwner(app);
  await seedDemo(app.kernel, { actorId: null }, DEMO_PASSWORD);
  proxied = await startApp({ clock, overrides: { trustProxy: ['127.0.0.1'] } });
  await setupOwner(proxied);
  await seedDemo(proxied.kernel, { actorId: null }, DEMO_PASSWORD);
});
test.after(async () => {
  await app.close();
  await proxied.close();
  await db.drop();
});

test('IPv4 keys as is; IPv6 keys by /56; mapped IPv4 is IPv4', () => {
  assert.is(ipKey('203.0.113.7'), '203.0.113.7');
  assert.is(ipKey('::ffff:203.0.113.7'), '203.0.113.7');
  assert.is(ipKey('2001:db8:1:ab00::1'), ipKey('2001:db8:1:abff:ffff:ffff:ffff:ffff'));
  assert.is(ipKey('2001:db8:1:ab12::1'), ipKey('2001:0db8:0001:ab99:0:0:0:2'), 'same /64 and same /56: one bucket');
  assert.is.not(ipKey('2001:db8:1:ab00::1'), ipKey('2001:db8:1:ac00::1'));
  assert.is(ipKey('2001:db8:1:ab00::1'), '2001:db8:1:ab00::/56');
});

test('10 failures lock (account, IP) for 15 minutes: the 11th is 429 with Retry-After even with the right password', async () => {
  for (let i = 1; i <= 10; i++) assert.is((await attempt(app, 'ada@northwind.example', `wrong guess ${i}`)).status, 401, `attempt ${i}`);
  const locked = await attempt(app, 'ada@northwind.example', DEMO_PASSWORD);
  assert.is(locked.status, 429);
  assert.is(locked.headers.get('retry-after'), String(15 * 60));
  assert.match(locked.text, 'Too many failed sign-ins');
  clock.advance(14 * MIN);
  assert.is((await attempt(app, 'ada@northwind.example', DEMO_PASSWORD)).status, 429);
  const audit = await app.kernel.db('audit_events').where({ action: 'core.session.login_failed' }).orderBy('seq', 'desc').first();
  assert.is(JSON.parse(audit.detail).locked, true, 'the lockout is audited');
});

test('the lock is in the database: it survives a restart', async () => {
  await app.close();
  app = await startApp({ clock, db });
  assert.is((await attempt(app, 'ada@northwind.example', DEMO_PASSWORD)).status, 429);
  clock.advance(2 * MIN);
  assert.is((await attempt(app, 'ada@northwind.example', DEMO_PASSWORD)).status, 303, 'after 15 minutes the right password works');
});

test('repeat lockouts double: 15, then 30 minutes', async () => {
  for (let i = 0; i < 10; i++) await attempt(app, 'ben@northwind.example', 'nope nope nope');
  clock.advance(16 * MIN);
  for (let i = 0; i < 10; i++) await attempt(app, 'ben@northwind.example', 'nope nope nope');
  const second = await attempt(app, 'ben@northwind.example', DEMO_PASSWORD);
  assert.is(second.status, 429);
  assert.is(second.headers.get('retry-after'), String(30 * 60));
  clock.advance(16 * MIN);
  assert.is((await attempt(app, 'ben@northwind.example', DEMO_PASSWORD)).status, 429, 'still locked after 15 minutes');
  clock.advance(15 * MIN);
  assert.is((await attempt(app, 'ben@northwind.example', DEMO_PASSWORD)).status, 303);
});

test('an unknown account locks the same way (nothing learned), and X-Forwarded-For from an untrusted peer is ignored', async () => {
  for (let i = 1; i <= 10; i++) {
    const res = await attempt(app, 'ghost@nowhere.example', 'whatever it is', `198.51.100.${i}`);
    assert.is(res.status, 401);
  }
  assert.is((await attempt(app, 'ghost@nowhere.example', 'whatever it is', '198.51.100.200')).status, 429, 'rotating X-Forwarded-For does not help');
});

test('behind a trusted proxy the forwarded client IP is used, and one IPv6 /64 is one bucket', async () => {
  for (let i = 1; i <= 10; i++) await attempt(proxied, 'cara@globex.example', 'bad password here', `2001:db8:5:7a${i % 2 ? '00' : 'ff'}::${i}`);
  assert.is((await attempt(proxied, 'cara@globex.example', DEMO_PASSWORD, '2001:db8:5:7a00::99')).status, 429, 'same /56');
  assert.is((await attempt(proxied, 'cara@globex.example', DEMO_PASSWORD, '2001:db8:6::1')).status, 303, 'another network is not locked out by it');
  const ips = await proxied.kernel.db('audit_events').where({ action: 'core.session.login_failed' }).pluck('ip');
  assert.ok(ips.includes('2001:db8:5:7a00::1'), 'the audit log records the forwarded address');
});

test('100 failures a day from one IP block that IP for any account', async () => {
  await proxied.kernel.db('throttle').delete();
  const ip = '203.0.113.50';
  for (let i = 0; i < 100; i++) await attempt(proxied, `user${i % 20}@nowhere.example`, 'wrong password', ip);
  assert.is((await attempt(proxied, 'ben@northwind.example', DEMO_PASSWORD, ip)).status, 429);
  assert.is((await attempt(proxied, 'ben@northwind.example', DEMO_PASSWORD, '203.0.113.51')).status, 303);
});

test('at most 100 failures an hour per account, across IPs', async () => {
  await proxied.kernel.db('throttle').delete();
  for (let i = 0; i < 100; i++) await attempt(proxied, 'owner@harbor.example', 'wrong password', `192.0.2.${Math.floor(i / 9)}`);
  assert.is((await attempt(proxied, 'owner@harbor.example', 'correct-horse-battery-staple', '192.0.2.250')).status, 429);
  clock.advance(61 * MIN);
  assert.is((await attempt(proxied, 'owner@harbor.example', 'correct-horse-battery-staple', '192.0.2.250')).status, 303);
});

test('50 parallel sign-ins: password hashing never runs more than one per core', async () => {
  await proxied.kernel.db('throttle').delete();
  const gate = proxied.kernel.passwords.gate;
  gate.peak = 0;
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => attempt(proxied, 'sam.staff@firm.example', i % 2 ? DEMO_PASSWORD : 'wrong password', `198.18.0.${i}`)));
  assert.ok(results.every((r) => r.status === 303 || r.status === 401));
  assert.ok(gate.peak >= 1 && gate.peak <= availableParallelism(), `peak ${gate.peak}`);
});

test.run();
