// The `atrium` CLI, run as a real process against a fresh database (SQLite, or a PostgreSQL
// schema when DATABASE_URL is set), then checked through a server on the same database.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cliEnv, freshDatabase, startApp, FIXTURE, type TestDb } from './helpers/app.ts';
import { COMMANDS } from '../core/cli/commands.ts';

const run = promisify(execFile);
const test = suite('cli');
let db: TestDb;

const envFor = cliEnv;

async function atrium(args: string[], extra: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/atrium.js', ...args], { env: envFor(db, extra), timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

test.before(async () => {
  db = await freshDatabase();
});
test.after(async () => {
  await db.drop();
});

test('npx atrium --help lists every command', async () => {
  const { stdout } = await run('npx', ['atrium', '--help'], { env: envFor(db), timeout: 60_000 });
  for (const c of COMMANDS) assert.match(stdout, c.name);
});

test('every subcommand has --help that exits 0 and lists its options', async () => {
  // Four at a time: every process loads the whole CLI through tsx, and twenty at once on a busy
  // two-core machine ran past the timeout (a killed process reports code null).
  const results: Array<Awaited<ReturnType<typeof atrium>>> = [];
  for (let i = 0; i < COMMANDS.length; i += 4) results.push(...(await Promise.all(COMMANDS.slice(i, i + 4).map((c) => atrium([c.name, '--help'])))));
  results.forEach((r, i) => {
    assert.is(r.code, 0, COMMANDS[i]!.name);
    assert.match(r.out, `atrium ${COMMANDS[i]!.name}`);
    assert.match(r.out, 'Options:');
  });
});

test('an unknown command or flag exits 2 with a clear message', async () => {
  const a = await atrium(['frobnicate']);
  assert.is(a.code, 2);
  assert.match(a.err, 'unknown command "frobnicate"');
  const b = await atrium(['migrate', '--stauts']);
  assert.is(b.code, 2);
  assert.match(b.err, "Unknown option '--stauts'");
});

test('a bad ATRIUM_* variable stops the command naming it', async () => {
  const r = await atrium(['migrate', '--status'], { ATRIUM_PLUGIN: 'team' });
  assert.is(r.code, 1);
  assert.match(r.err, 'ATRIUM_PLUGIN');
});

test('migrate --status shows pending work per plugin; migrate applies it; status is then up to date', async () => {
  const env = { ATRIUM_PLUGINS: FIXTURE };
  const before = await atrium(['migrate', '--status'], env);
  assert.is(before.code, 0);
  // The kernel has several migrations (one per kernel issue); each is pending on a fresh database.
  assert.match(before.out, /core\s+0\s+[1-9]\d*\s+pending/);
  assert.match(before.out, /fixture\s+0\s+3\s+pending/);
  const mig = await atrium(['migrate'], env);
  assert.is(mig.code, 0, mig.err);
  assert.match(mig.out, 'migrated  fixture: 20261127100002_fixture_areas_comments');
  const after = await atrium(['migrate', '--status'], env);
  assert.match(after.out, /core\s+[1-9]\d*\s+0\s+up to date/);
  assert.match(after.out, /fixture\s+3\s+0\s+up to date/);
  assert.match((await atrium(['migrate'], env)).out, 'Already up to date.');
});

test('plugins lists the fixture plugin with its version, state and requires when enabled', async () => {
  const r = await atrium(['plugins'], { ATRIUM_PLUGINS: `team,${FIXTURE},./test/fixtures/plugins/dep-base,./test/fixtures/plugins/dep-top` });
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /fixture\s+1\.2\.3\s+enabled/);
  assert.match(r.out, /dep-top\s+1\.0\.0\s+enabled\S*(,\s\S+)*\s+.*dep-base/);
  const without = await atrium(['plugins'], { ATRIUM_PLUGINS: '' });
  assert.match(without.out, /team\s+1\.0\.0\s+disabled/);
  assert.not.match(without.out, 'fixture');
});

test('a plugin command resolves every kernel service the server provides (views aside)', async () => {
  const r = await atrium(['fixture:services'], { ATRIUM_PLUGINS: FIXTURE });
  assert.is(r.code, 0, r.err + r.out);
  for (const t of ['Config', 'Db', 'Logger', 'Mail', 'Audit', 'Events', 'Clock', 'Notifications', 'Storage', 'Live', 'Links', 'Jobs', 'Approvables']) assert.match(r.out, new RegExp(`\\b${t}\\b`));
});

test('user:create validates its input and refuses a duplicate', async () => {
  const [badEmail, noName, short, badRole] = await Promise.all([
    atrium(['user:create', '--email', 'not-an-email', '--name', 'X', '--password', 'long-enough-password']),
    atrium(['user:create', '--email', 'pat@firm.example', '--password', 'long-enough-password']),
    atrium(['user:create', '--email', 'pat@firm.example', '--name', 'Pat', '--password', 'short']),
    atrium(['user:create', '--email', 'pat@firm.example', '--name', 'Pat', '--password', 'long-enough-password', '--role', 'emperor']),
  ]);
  assert.is(badEmail.code, 2);
  assert.match(badEmail.err, '--email');
  assert.is(noName.code, 2);
  assert.match(noName.err, '--name is required');
  assert.is(short.code, 2);
  assert.match(short.err, 'at least 12');
  assert.is(badRole.code, 2);
  assert.match(badRole.err, '--role');
  let r;
  r = await atrium(['user:create', '--email', 'Pat@Firm.example', '--name', 'Pat Admin', '--password', 'long-enough-password', '--role', 'admin']);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, 'Created admin pat@firm.example');
  r = await atrium(['user:create', '--email', 'pat@firm.example', '--name', 'Pat', '--password', 'long-enough-password']);
  assert.is(r.code, 2);
  assert.match(r.err, 'already has an account');
});

test('workspace:create and member:add; then the client signs in to the server and sees the workspace', async () => {
  let r = await atrium(['workspace:create', '--name', 'Acme Holdings', '--slug', 'acme']);
  assert.is(r.code, 0, r.err);
  r = await atrium(['workspace:create', '--name', 'Acme Again', '--slug', 'acme']);
  assert.is(r.code, 2);
  assert.match(r.err, 'taken');
  r = await atrium(['user:create', '--email', 'dana@acme.example', '--name', 'Dana Client', '--password', 'river-stone-lantern-9']);
  assert.is(r.code, 0, r.err);
  r = await atrium(['member:add', '--workspace', 'nope', '--email', 'dana@acme.example', '--role', 'client_admin']);
  assert.is(r.code, 2);
  assert.match(r.err, 'no workspace "nope"');
  r = await atrium(['member:add', '--workspace', 'acme', '--email', 'dana@acme.example', '--role', 'client_boss']);
  assert.is(r.code, 2);
  r = await atrium(['member:add', '--workspace', 'acme', '--email', 'dana@acme.example', '--role', 'client_admin']);
  assert.is(r.code, 0, r.err);
  r = await atrium(['member:add', '--workspace', 'acme', '--email', 'dana@acme.example', '--role', 'client_admin']);
  assert.is(r.code, 2);

  const app = await startApp({ db, plugins: [FIXTURE] });
  try {
    const c = app.client();
    assert.is((await c.login('dana@acme.example', 'river-stone-lantern-9')).status, 303);
    assert.is((await c.get('/')).location, '/w/acme/');
    assert.match((await c.get('/w/acme/')).text, 'Acme Holdings');
    const audit = await app.kernel.db('audit_events').where({ action: 'core.membership.create' }).first();
    assert.match(audit.detail, '"via":"cli"');
  } finally {
    await app.close();
  }
});

test('demo:seed prints the demo password once, runs the plugins\' demos and is idempotent', async () => {
  const first = await atrium(['demo:seed']);
  assert.is(first.code, 0, first.err);
  assert.match(first.out, /Password for every demo account: demo-\S+/);
  // The default configuration's plugins, through a booted (not listening) kernel: see test/demo.test.ts.
  assert.match(first.out, 'Demo data from the plugins: approvals, files, invoices, messaging, signatures.');
  // Previews off here: this server would otherwise render the demo's PDFs (and audit it) meanwhile.
  const app = await startApp({ db, plugins: ['team', 'files', 'approvals', 'signatures', 'invoices'], overrides: { plugins: { settings: { files: { previewMaxBytes: 0 } } } } });
  try {
    const count = async (table: string) => Number(((await app.kernel.db(table).count({ n: '*' }).first()) as { n: number | string }).n);
    const before = { files: await count('files_files'), requests: await count('approvals_requests'), envelopes: await count('signatures_envelopes'), invoices: await count('invoices_invoices'), audit: await count('audit_events'), mail: await count('outbox') };
    assert.ok(before.files > 0 && before.requests === 2 && before.envelopes === 1 && before.invoices === 3, JSON.stringify(before));
    const again = await atrium(['demo:seed']);
    assert.is(again.code, 0, again.err);
    assert.match(again.out, 'already loaded');
    assert.not.match(again.out, 'Password');
    assert.equal({ files: await count('files_files'), requests: await count('approvals_requests'), envelopes: await count('signatures_envelopes'), invoices: await count('invoices_invoices'), audit: await count('audit_events'), mail: await count('outbox') }, before);
  } finally {
    await app.close();
  }
});

test('theme:check accepts the default theme and fails a missing folder', async () => {
  const ok = await atrium(['theme:check', 'themes/default']);
  assert.is(ok.code, 0);
  assert.match(ok.out, 'Theme OK');
  const bad = await atrium(['theme:check', 'themes/does-not-exist']);
  assert.is(bad.code, 1);
  assert.match(bad.out, 'ATR_THEME_DIR_MISSING');
  const none = await atrium(['theme:check']);
  assert.is(none.code, 2);
});

test.run();
