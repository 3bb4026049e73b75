// The real process: `atrium start` listens, SIGTERM drains an in-flight request, calls each
// plugin's destroy, closes the database and exits 0.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cliEnv, freshDatabase, FIXTURE, type TestDb } from './helpers/app.ts';
import { HttpClient } from './helpers/http.ts';
import { startProcess } from './helpers/process.ts';

const run = promisify(execFile);
const test = suite('lifecycle');
let db: TestDb;

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const config = join(db.dataDir, 'config.json');
  writeFileSync(config, JSON.stringify({ plugins: { enabled: [FIXTURE], settings: { fixture: { destroyMarker: join(db.dataDir, 'destroyed') } } } }));
  // Info-level logs: the test reads the "atrium listening" line for the port.
  return cliEnv(db, { PORT: '0', ATRIUM_CONFIG: config, ATRIUM_LOG_LEVEL: 'info', ...extra });
}

test.before(async () => {
  db = await freshDatabase();
});
test.after(async () => {
  await db.drop();
});

test('SIGTERM lets an in-flight request finish, destroys plugins and exits 0', async () => {
  await run(process.execPath, ['bin/atrium.js', 'demo:seed', '--password', 'lifecycle-demo-pass'], { env: env() });
  const server = await startProcess(env());
  const c = new HttpClient(server.url);
  assert.is((await c.login('ada@northwind.example', 'lifecycle-demo-pass')).status, 303);
  const inflight = c.get('/w/northwind/fixture/slow?ms=800');
  await new Promise((r) => setTimeout(r, 250));
  server.child.kill('SIGTERM');
  const res = await inflight;
  assert.is(res.status, 200);
  assert.is(res.text, 'slow done');
  assert.is(await server.exited, 0);
  assert.ok(existsSync(join(db.dataDir, 'destroyed')), 'fixture.destroy ran');
  const log = server.output.join('');
  assert.match(log, '"msg":"shutting down"');
  assert.match(log, '"msg":"atrium stopped"');
  await fetch(`${server.url}/healthz`).then(
    () => assert.unreachable('the server should be gone'),
    () => {},
  );
});

test('a bad configuration stops start-up with a message naming the key, exit 1', async () => {
  const r = await run(process.execPath, ['bin/atrium.js', 'start'], { env: env({ ATRIUM_SESSION_IDLE_MINUTES: 'soon' }) }).then(
    () => null,
    (e: { code: number; stderr: string }) => e,
  );
  assert.ok(r);
  assert.is(r!.code, 1);
  assert.match(r!.stderr, 'ATRIUM_SESSION_IDLE_MINUTES');
});

test.run();
