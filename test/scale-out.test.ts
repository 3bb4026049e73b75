// Scale-out on PostgreSQL: two `atrium start` processes on one database schema and one data
// folder (so the encrypted blobs and the key ring are shared). A session made on process 1 works
// on process 2; a file uploaded on 1 downloads on 2; a notice caused on 1 reaches an event stream
// open on 2 (LISTEN/NOTIFY); and two digest runners on two pools send one digest.
// PostgreSQL only: on SQLite there is one process per data file, so no test is registered.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pino from 'pino';
import { cliEnv, freshDatabase, testConfig, ON_PG, type TestDb } from './helpers/app.ts';
import { HttpClient } from './helpers/http.ts';
import { startProcess, type Running } from './helpers/process.ts';
import { openSse, cookieOf } from './helpers/sse.ts';
import { upload, download } from './plugins/files/helpers.ts';
import { createServices } from '../core/services.ts';
import { transaction } from '../core/db/index.ts';
import { systemClock } from '../core/clock.ts';

const run = promisify(execFile);
const test = suite('scale-out (PostgreSQL, two processes)');
const PW = 'scale-out-demo-pass';

if (ON_PG) {
  let db: TestDb;
  let one: Running;
  let two: Running;
  const env = () => {
    const config = join(db.dataDir, 'config.json');
    writeFileSync(config, JSON.stringify({ plugins: { enabled: ['files'] } }));
    return cliEnv(db, { PORT: '0', ATRIUM_CONFIG: config, ATRIUM_LOG_LEVEL: 'info' });
  };
  const stop = async (p: Running | undefined) => {
    if (!p || p.child.exitCode !== null) return;
    p.child.kill('SIGTERM');
    assert.is(await p.exited, 0, 'drains and exits 0 with a stream open');
  };

  test.before(async () => {
    db = await freshDatabase();
    await run(process.execPath, ['bin/atrium.js', 'migrate'], { env: env() });
    await run(process.execPath, ['bin/atrium.js', 'demo:seed', '--password', PW], { env: env() });
    // One after the other: the first start has nothing left to migrate either way.
    one = await startProcess(env());
    two = await startProcess(env());
  });
  test.after(async () => {
    try {
      await Promise.all([stop(one), stop(two)]);
    } finally {
      await db.drop();
    }
  });

  test('sign in on 1, continue on 2; upload on 1, download on 2; a notice caused on 1 reaches a stream on 2', async () => {
    assert.is.not(one.url, two.url);
    const staff1 = new HttpClient(one.url);
    assert.is((await staff1.login('sam.staff@firm.example', PW)).status, 303);
    const staff2 = new HttpClient(two.url);
    for (const [k, v] of staff1.cookies) staff2.cookies.set(k, v);
    const page = await staff2.get('/w/northwind/files/');
    assert.is(page.status, 200, 'the session lives in the database: process 2 knows it');
    assert.match(page.text, 'Sam Okafor');
    await staff1.get('/w/northwind/files/');

    // Ada (a client of Northwind) has a page open on process 2.
    const ada1 = new HttpClient(one.url);
    assert.is((await ada1.login('ada@northwind.example', PW)).status, 303);
    const stream = await openSse(`${two.url}/live`, cookieOf(ada1.cookies));
    assert.is(stream.status, 200);

    // Staff uploads a deliverable on process 1: the workspace's people are notified (Ada has the
    // demo's notices already: the stream carries her count, one more than now).
    const counter = createServices(testConfig(db), pino({ level: 'silent' }), systemClock);
    let unread: number;
    try {
      const adaId = String((await counter.db('users').where({ email: 'ada@northwind.example' }).first('id')).id);
      unread = Number(((await counter.db('notifications').where({ user_id: adaId }).whereNull('read_at').count({ n: '*' }).first()) as { n: number | string }).n);
    } finally {
      await counter.db.destroy();
    }
    const res = await upload(staff1, '/w/northwind/files/upload', [{ name: 'Scale report.txt', data: 'shared across processes' }], { deliverable: 'yes' });
    assert.is(res.status, 200);
    const ev = await stream.next('notifications');
    assert.is(ev.data, String(unread + 1), 'published on 1, delivered on 2 through LISTEN/NOTIFY');

    const services = createServices(testConfig(db), pino({ level: 'silent' }), systemClock);
    try {
      const file = await services.db('files_files').where({ name: 'Scale report.txt' }).first('id');
      assert.ok(file);
      const ada2 = new HttpClient(two.url);
      for (const [k, v] of ada1.cookies) ada2.cookies.set(k, v);
      const d = await download(ada2, `/w/northwind/files/f/${file.id}/download`);
      assert.is(d.status, 200, 'process 2 reads the blob process 1 wrote (shared data folder, shared key ring)');
      assert.is(d.body.toString(), 'shared across processes');
    } finally {
      await services.db.destroy();
    }
    stream.close();
  });

  // The kernel's cache (core/cache.ts) keeps sessions, people and roles in each process: a change
  // made through one process (or a CLI command) must hold on the other's very next request.
  test('with caches warm on both: sign-out, a revoked session, a removed membership and a changed role hold on the other process at once', async () => {
    const onBoth = async (email: string) => {
      const c1 = new HttpClient(one.url);
      assert.is((await c1.login(email, PW)).status, 303);
      const c2 = new HttpClient(two.url);
      for (const [k, v] of c1.cookies) c2.cookies.set(k, v);
      return [c1, c2] as const;
    };
    const warm = async (cs: readonly HttpClient[], path: string, status = 200) => {
      for (const c of cs) for (let i = 0; i < 3; i++) assert.is((await c.get(path)).status, status, path);
    };

    // Signed out on 1: refused on 2.
    const [ada1, ada2] = await onBoth('ada@northwind.example');
    await warm([ada1, ada2], '/w/northwind/files/');
    assert.is((await ada1.postForm('/logout', {})).status, 303);
    assert.is((await ada2.get('/w/northwind/files/')).status, 302, 'signed out on 1, refused on 2');

    // Revoked by a CLI-like process (its own pool, no server): refused on both.
    const admin = createServices(testConfig(db), pino({ level: 'silent' }), systemClock);
    try {
      const [eli1, eli2] = await onBoth('eli@northwind.example');
      await warm([eli1, eli2], '/w/northwind/files/');
      const eli = String((await admin.db('users').where({ email: 'eli@northwind.example' }).first('id')).id);
      await admin.db('sessions').where({ user_id: eli }).delete();
      assert.is((await eli2.get('/w/northwind/files/')).status, 302, 'revoked: refused on 2');
      assert.is((await eli1.get('/w/northwind/files/')).status, 302, 'revoked: refused on 1');

      // Cara's role changed by process 1's own write path, then her membership removed.
      const [cara1, cara2] = await onBoth('cara@globex.example');
      await warm([cara1, cara2], '/w/globex/audit');
      const cara = String((await admin.db('users').where({ email: 'cara@globex.example' }).first('id')).id);
      await admin.db('memberships').where({ user_id: cara }).update({ role: 'client_viewer' });
      assert.is((await cara2.get('/w/globex/audit')).status, 404, 'demoted: the activity page is gone on 2');
      assert.is((await cara1.get('/w/globex/audit')).status, 404, 'demoted: the activity page is gone on 1');
      await warm([cara1, cara2], '/w/globex/');
      await admin.db('memberships').where({ user_id: cara }).delete();
      assert.is((await cara1.get('/w/globex/')).status, 404, 'removed: 404 on 1');
      assert.is((await cara2.get('/w/globex/')).status, 404, 'removed: 404 on 2');
    } finally {
      await admin.db.destroy();
    }
  });

  test('two digest runners on two pools (as two processes) send one digest', async () => {
    const config = testConfig(db);
    const a = createServices(config, pino({ level: 'silent' }), systemClock);
    const b = createServices(config, pino({ level: 'silent' }), systemClock);
    try {
      const ben = await a.db('users').where({ email: 'ben@northwind.example' }).first('id');
      await a.db('users').where({ id: ben.id }).update({ notify_pref: 'digest', last_digest_at: null });
      await transaction(a.db, (trx) =>
        a.notifications.notify(trx, [
          { userId: ben.id, kind: 'test.thing', subject: 'Approval requested', text: 'Engagement letter' },
          { userId: ben.id, kind: 'test.thing', subject: 'Message from your team', text: 'hi' },
        ]),
      );
      const counts = await Promise.all([a.notifications.sendDigests(a.db), b.notifications.sendDigests(b.db), a.notifications.sendDigests(a.db), b.notifications.sendDigests(b.db)]);
      assert.is(counts.reduce((x, y) => x + y, 0), 1, 'one digest across both pools');
      const mails = await a.db('outbox').where({ to_address: 'ben@northwind.example' }).andWhere('subject', 'like', '%daily summary%').select('id');
      assert.is(mails.length, 1);
    } finally {
      await a.db.destroy();
      await b.db.destroy();
    }
  });
}

test.run();
