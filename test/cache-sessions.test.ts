// With the kernel's cache on (the default), a session, a person's workspaces and their role are
// read from memory once warm, and every change that must refuse the next request does: signing
// out, a session revoked or a person disabled by another process (a CLI command on SQLite, another
// connection on PostgreSQL), a removed membership, a changed role. The same across two server
// processes on PostgreSQL: test/scale-out.test.ts.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { seedDemo } from '../core/demo.ts';
import { cacheOf } from '../core/cache.ts';
import { createServices, type Services } from '../core/services.ts';
import { systemClock } from '../core/clock.ts';
import { DEMO_PASSWORD, startApp, testConfig, type TestApp } from './helpers/app.ts';
import { HttpClient } from './helpers/http.ts';

const test = suite('cache: sessions, people and roles');
let app: TestApp;
/** Another process's connection (what a CLI command or a second server would write through). */
let other: Services;

test.before(async () => {
  app = await startApp({ plugins: ['team'] });
  await seedDemo(app.kernel, { actorId: null }, DEMO_PASSWORD);
  other = createServices(testConfig(app.db), pino({ level: 'silent' }), systemClock);
});
test.after(async () => {
  await other.db.destroy();
  await app.close();
});

const signIn = async (email: string) => {
  const c = app.client();
  assert.is((await c.login(email, DEMO_PASSWORD)).status, 303);
  return c;
};
const userId = async (email: string) => String((await other.db('users').where({ email }).first('id')).id);
/** Give another process's notification (PostgreSQL) time to arrive; the check must not need it. */
const warm = async (c: HttpClient, path: string, status = 200) => {
  for (let i = 0; i < 3; i++) assert.is((await c.get(path)).status, status);
};

test('warm pages come from the cache: the session is read once, not per request', async () => {
  const ada = await signIn('ada@northwind.example');
  await warm(ada, '/w/northwind/');
  const cache = cacheOf(app.kernel.db)!;
  assert.ok(cache.usable, 'the cache is on (on PostgreSQL: the LISTEN connection is up)');
  const queries: string[] = [];
  const onQuery = (q: { sql: string }) => queries.push(q.sql);
  app.kernel.db.on('query', onQuery);
  try {
    assert.is((await ada.get('/w/northwind/team')).status, 200);
  } finally {
    app.kernel.db.removeListener('query', onQuery);
  }
  assert.not.ok(queries.some((q) => /from\s+["`]sessions["`]/i.test(q)), `no session query on a warm page: ${queries.join(' | ')}`);
});

test('signed out: the old cookie is refused on the next request', async () => {
  const ada = await signIn('ada@northwind.example');
  await warm(ada, '/w/northwind/');
  const stolen = new HttpClient(app.url);
  for (const [k, v] of ada.cookies) stolen.cookies.set(k, v);
  assert.is((await stolen.get('/w/northwind/')).status, 200);
  assert.is((await ada.postForm('/logout', {})).status, 303);
  const after = await stolen.get('/w/northwind/');
  assert.is(after.status, 302, 'the cached session was dropped with its row');
  assert.match(after.headers.get('location') ?? '', /^\/login/);
});

test('a session revoked or a person disabled by another process: refused on the next request', async () => {
  const eli = await signIn('eli@northwind.example');
  await warm(eli, '/w/northwind/');
  await other.db('sessions').where({ user_id: await userId('eli@northwind.example') }).delete();
  assert.is((await eli.get('/w/northwind/')).status, 302, 'revoked');

  const ben = await signIn('ben@northwind.example');
  await warm(ben, '/w/northwind/');
  await other.db.raw('update users set disabled = ? where email = ?', [true, 'ben@northwind.example']);
  assert.is((await ben.get('/w/northwind/')).status, 302, 'disabled');
  await other.db('users').where({ email: 'ben@northwind.example' }).update({ disabled: false });
});

test('a removed membership and a changed role hold on the next request', async () => {
  const cara = await signIn('cara@globex.example');
  await warm(cara, '/w/globex/audit');
  const id = await userId('cara@globex.example');
  // Demoted to viewer by another process: the activity page (client admins only) is gone.
  await other.db('memberships').where({ user_id: id }).update({ role: 'client_viewer' });
  assert.is((await cara.get('/w/globex/audit')).status, 404, 'the new role, at once');
  assert.is((await cara.get('/w/globex/')).status, 200);
  // Removed from the workspace: the same 404 as for any stranger.
  await other.db('memberships').where({ user_id: id }).delete();
  assert.is((await cara.get('/w/globex/')).status, 404, 'no longer a member');
});

test('a workspace archived by another process disappears at once', async () => {
  const ada = await signIn('ada@northwind.example');
  await warm(ada, '/w/northwind/');
  await other.db('workspaces').where({ slug: 'northwind' }).update({ archived: true });
  try {
    assert.is((await ada.get('/w/northwind/')).status, 404);
  } finally {
    await other.db('workspaces').where({ slug: 'northwind' }).update({ archived: false });
  }
  assert.is((await ada.get('/w/northwind/')).status, 200);
});

test.run();
