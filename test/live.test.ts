// Live updates (core/live.ts, GET /live): a notice recorded for a person reaches their open
// event stream once the change commits; the stream carries only their own events; a request
// that is not an EventSource gets a short 406; shutdown ends open streams so the server drains.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startApp, setupOwner, ON_PG, type TestApp } from './helpers/app.ts';
import { openSse, cookieOf } from './helpers/sse.ts';
import { seedDemo } from '../core/demo.ts';
import { transaction } from '../core/db/index.ts';
import { Tokens } from '../core/container.ts';

const test = suite(`live updates (${ON_PG ? 'PostgreSQL' : 'SQLite'})`);
const PW = 'demo-password-for-tests';
let app: TestApp;
let ada: string;
let ben: string;

test.before(async () => {
  app = await startApp();
  await setupOwner(app);
  await seedDemo(app.kernel, { actorId: null }, PW);
  const rows = (await app.kernel.db('users').whereIn('email', ['ada@northwind.example', 'ben@northwind.example']).select('id', 'email')) as Array<{ id: string; email: string }>;
  ada = rows.find((r) => r.email.startsWith('ada'))!.id;
  ben = rows.find((r) => r.email.startsWith('ben'))!.id;
});
test.after(async () => {
  await app.close();
});

const signedIn = async (email: string) => {
  const c = app.client();
  assert.is((await c.login(email, PW)).status, 303);
  return c;
};

test('signed out: 401; not an EventSource (no Accept, or an htmx request): a short 406', async () => {
  const anon = await openSse(`${app.url}/live`, undefined);
  assert.is(anon.status, 401);
  assert.is(anon.headers.get('cache-control'), 'no-store');
  const c = await signedIn('ada@northwind.example');
  const plain = await c.get('/live');
  assert.is(plain.status, 406);
  const hx = await openSse(`${app.url}/live`, cookieOf(c.cookies), { 'HX-Request': 'true' });
  assert.is(hx.status, 406);
});

test('a notice reaches the recipient\'s open stream after commit, with the new count; nobody else\'s', async () => {
  const adaClient = await signedIn('ada@northwind.example');
  const benClient = await signedIn('ben@northwind.example');
  const home = await adaClient.get('/account/notifications');
  assert.match(home.text, 'sse-connect="/live"');
  assert.match(home.text, '/vendor/htmx-ext-sse.min.js');
  assert.match(home.text, /sse-swap="notifications"[^>]*>0</);
  const adaStream = await openSse(`${app.url}/live`, cookieOf(adaClient.cookies));
  const benStream = await openSse(`${app.url}/live`, cookieOf(benClient.cookies));
  assert.is(adaStream.status, 200);
  assert.match(adaStream.headers.get('content-type') ?? '', 'text/event-stream');
  assert.is(adaStream.headers.get('cache-control'), 'no-store');
  assert.is(adaStream.headers.get('x-accel-buffering'), 'no');
  assert.is(app.kernel.live.openStreams, 2);

  const svc = app.kernel.container.resolve(Tokens.Notifications);
  // Rolled back: nothing is published. Then a committed notice for Ada only.
  await transaction(app.kernel.db, async (trx) => {
    await svc.notify(trx, [{ userId: ada, kind: 'test.thing', subject: 'Doomed', text: 'never' }]);
    throw new Error('roll back');
  }).catch(() => {});
  await transaction(app.kernel.db, (trx) => svc.notify(trx, [{ userId: ada, kind: 'test.thing', subject: 'New deliverable', text: 'Q3 report.pdf is ready.' }]));
  const ev = await adaStream.next('notifications');
  assert.is(ev.data, '1', 'one notice on record (the rolled-back one never was)');

  // Ben's stream carries only Ben's events: his first event is his own count, not Ada's.
  await app.kernel.live.publish(ben, 'notifications', '7');
  assert.is((await benStream.next('notifications')).data, '7');
  assert.match((await adaClient.get('/account/notifications')).text, /sse-swap="notifications"[^>]*>1</);
  adaStream.close();
  benStream.close();
});

test('the count is of unread notices: the list marks them, "mark all as read" clears them and the open stream hears 0', async () => {
  const c = await signedIn('ada@northwind.example');
  const page = await c.get('/account/notifications');
  assert.match(page.text, 'New deliverable');
  assert.match(page.text, /notice-unread/);
  assert.match(page.text, /sse-swap="notifications"[^>]*>1</);
  const stream = await openSse(`${app.url}/live`, cookieOf(c.cookies));
  const marked = await c.postForm('/account/notifications/read', {});
  assert.is(marked.status, 303);
  assert.is((await stream.next('notifications')).data, '0');
  const after = await c.get('/account/notifications');
  assert.match(after.text, /sse-swap="notifications"[^>]*>0</);
  assert.not.match(after.text, /notice-unread/);
  assert.match(after.text, 'New deliverable', 'still listed, as read');
  assert.ok(await app.kernel.db('audit_events').where({ action: 'core.notifications.read', actor_id: ada }).first());
  // A GET never marks anything: reading the page twice leaves the marker where it was.
  await transaction(app.kernel.db, (trx) => app.kernel.container.resolve(Tokens.Notifications).notify(trx, [{ userId: ada, kind: 'test.thing', subject: 'Second', text: 'x' }]));
  assert.is((await stream.next('notifications')).data, '1');
  await c.get('/account/notifications');
  assert.match((await c.get('/account/notifications')).text, /sse-swap="notifications"[^>]*>1</);
  stream.close();
});

test('signing out ends that session\'s open stream at once; a session ended elsewhere ends within a heartbeat', async () => {
  const one = await signedIn('ben@northwind.example');
  const two = await signedIn('ben@northwind.example');
  const s1 = await openSse(`${app.url}/live`, cookieOf(one.cookies));
  const s2 = await openSse(`${app.url}/live`, cookieOf(two.cookies));
  assert.is(s1.status, 200);
  await one.get('/account');
  await one.postForm('/logout', {});
  await s1.ended;
  // The other session's stream is still open: it gets Ben's events.
  await app.kernel.live.publish(ben, 'notifications', '5');
  assert.is((await s2.next('notifications')).data, '5');
  // Ended without telling this process (as "sign out other sessions" on another server would):
  // the next heartbeat finds the session gone and ends the stream.
  app.kernel.live.heartbeatMs = 100;
  const s3 = await openSse(`${app.url}/live`, cookieOf(two.cookies));
  await app.kernel.db('sessions').where({ user_id: ben }).delete();
  await s3.ended;
  app.kernel.live.heartbeatMs = 25_000;
  s2.close();
});

test('the service resolves from the container; bad event names and large payloads are refused', async () => {
  const live = app.kernel.container.resolve(Tokens.Live);
  assert.is(live, app.kernel.live);
  const refused = async (p: Promise<void>) => p.then(() => '', (err: Error) => err.message);
  assert.match(await refused(live.publish(ada, 'Bad Name', 'x')), 'bad event name');
  assert.match(await refused(live.publish(ada, 'big', 'x'.repeat(3000))), 'payload over');
});

test('shutdown ends open streams, so the server drains', async () => {
  const other = await startApp();
  await setupOwner(other);
  const c = other.client();
  await c.login('owner@harbor.example', 'correct-horse-battery-staple');
  const stream = await openSse(`${other.url}/live`, cookieOf(c.cookies));
  assert.is(stream.status, 200);
  await other.close();
  await stream.ended;
  assert.is(other.kernel.live.openStreams, 0);
});

test.run();
