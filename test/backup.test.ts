// `atrium backup` / `atrium restore`, run as real processes: a backup taken while uploads and
// page loads are in flight, a wiped installation (master keys kept aside, as an operator would),
// a restore, then `audit:verify` and a download of every file version checked against its SHA-256.
// Runs on SQLite, or on a PostgreSQL schema when DATABASE_URL is set.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { cliEnv, startApp, ON_PG, PG_URL, type TestDb } from './helpers/app.ts';
import { download, filesWorld, upload, type FilesWorld } from './plugins/files/helpers.ts';

const run = promisify(execFile);
const test = suite('backup and restore');
const work = mkdtempSync(join(tmpdir(), 'atrium-backup-test-'));
const backupDir = join(work, 'snap');
let w: FilesWorld;
let db: TestDb;

async function atrium(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/atrium.js', ...args], { env: cliEnv(db, { ATRIUM_PLUGINS: 'files' }), timeout: 120_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const schemaOf = () => (db.overrides.database as { schema?: string }).schema!;

test.before(async () => {
  w = await filesWorld();
  db = w.app.db;
});
test.after(async () => {
  await w?.app.close().catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

test('bad input: no folder, or a folder that exists, exits 2', async () => {
  const a = await atrium(['backup']);
  assert.is(a.code, 2);
  assert.match(a.err, 'give the folder');
  const b = await atrium(['backup', work]);
  assert.is(b.code, 2);
  assert.match(b.err, 'already exists');
  const c = await atrium(['restore', join(work, 'nope')]);
  assert.is(c.code, 2);
});

test('backup under load, wipe, restore: audit chain intact and every version decrypts to its SHA-256', async () => {
  const seed = await atrium(['demo:seed', '--password', 'demo-password-for-backup']);
  assert.is(seed.code, 0, seed.err);
  const before = new Map<string, string>();
  for (let i = 0; i < 4; i++) {
    const data = `file ${i} `.repeat(2000 + i * 500);
    before.set(`doc-${i}.txt`, sha(data));
    assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: `doc-${i}.txt`, data }])).status, 200);
  }
  // A second version of one file.
  assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'doc-0.txt', data: 'second version of doc 0' }])).status, 200);

  // Light load in flight while the backup runs.
  const load = Promise.all([
    ...[0, 1, 2].map((i) => upload(w.as.client_admin, `${w.base}/upload`, [{ name: `during-${i}.txt`, data: `uploaded during the backup ${i} `.repeat(3000) }])),
    ...[0, 1, 2, 3].map(() => w.as.staff.get(`${w.base}/`)),
  ]);
  const [b, results] = await Promise.all([atrium(['backup', backupDir]), load]);
  assert.is(b.code, 0, b.err + b.out);
  for (const r of results) assert.is(r.status, 200);
  assert.match(b.out, 'The master keys are NOT in this backup');
  assert.match(b.out, join(db.dataDir, 'storage.keys'));
  assert.ok(!existsSync(join(backupDir, 'keys')));
  const manifest = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8'));
  assert.is(manifest.format, 'atrium-backup/1');
  assert.is(manifest.database.kind, ON_PG ? 'postgres' : 'sqlite');
  assert.ok(manifest.migrations.some((m: { id: string; applied: string[] }) => m.id === 'files' && m.applied.length > 0));
  assert.ok(manifest.parts.some((p: { path: string }) => p.path.startsWith('blobs/')));

  // Wipe: stop the server, keep the master keys aside, empty the data folder and the database.
  await w.app.kernel.stop();
  const keys = join(work, 'keys');
  mkdirSync(keys);
  // mfa.key exists once someone has enrolled MFA; storage.keys once a file was stored.
  const keyFiles = ['storage.keys', 'mfa.key'].filter((f) => existsSync(join(db.dataDir, f)));
  assert.ok(keyFiles.includes('storage.keys'));
  for (const f of keyFiles) cpSync(join(db.dataDir, f), join(keys, f));
  rmSync(db.dataDir, { recursive: true, force: true });
  mkdirSync(db.dataDir);
  if (ON_PG) {
    const admin = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 1 } });
    await admin.raw(`drop schema ${schemaOf()} cascade`);
    await admin.raw(`create schema ${schemaOf()}`);
    await admin.destroy();
  }
  for (const f of keyFiles) cpSync(join(keys, f), join(db.dataDir, f));
  // Signed audit checkpoints of the log as it was later than the backup (kept off the database).
  writeFileSync(join(db.dataDir, 'audit-checkpoints.jsonl'), '{"seq":999999}\n');

  const r = await atrium(['restore', backupDir]);
  assert.is(r.code, 0, r.err + r.out);
  assert.match(r.out, 'chain intact');
  // They cannot be extended by the restored log: kept aside, and a new file starts.
  assert.match(r.out, 'Audit checkpoints: the previous file was moved to');
  assert.not.ok(existsSync(join(db.dataDir, 'audit-checkpoints.jsonl')));
  assert.ok(readdirSync(db.dataDir).some((f) => f.startsWith('audit-checkpoints.jsonl.before-restore-')));
  const v = await atrium(['audit:verify']);
  assert.is(v.code, 0, v.err + v.out);
  assert.match(v.out, 'chain intact');

  // Boot on the restored installation and download every version.
  const app = await startApp({ plugins: ['files'], db });
  try {
    const staff = app.client();
    assert.is((await staff.login('staff@acme.example', 'files-test-password-123')).status, 303);
    // The demo's files too (its plugins seed them), downloaded by its staff member in their workspaces.
    const sam = app.client();
    assert.is((await sam.login('sam.staff@firm.example', 'demo-password-for-backup')).status, 303);
    const rows = await app.kernel.db('files_versions as v').join('files_files as f', 'f.id', 'v.file_id').join('workspaces as ws', 'ws.id', 'f.workspace_id').select('v.id as vid', 'f.id as fid', 'f.name', 'v.sha256', 'ws.slug');
    const names = new Set(rows.map((x) => String(x.name)));
    for (const n of before.keys()) assert.ok(names.has(n), `${n} restored`);
    assert.ok(rows.length >= 5);
    assert.ok(rows.some((x) => x.slug === 'northwind'), 'the demo files are restored');
    for (const row of rows) {
      const demo = row.slug === 'northwind' || row.slug === 'globex';
      const d = await download(demo ? sam : staff, demo ? `/w/${row.slug}/files/f/${row.fid}/v/${row.vid}/download` : `${w.base}/f/${row.fid}/v/${row.vid}/download`);
      assert.is(d.status, 200, `${row.name} v${row.vid}`);
      assert.is(sha(d.body), row.sha256, `${row.name} v${row.vid}`);
    }
    const latest0 = rows.filter((x) => x.name === 'doc-0.txt').map((x) => x.sha256);
    assert.ok(latest0.includes(before.get('doc-0.txt')!) && latest0.includes(sha('second version of doc 0')));
  } finally {
    await app.kernel.stop();
  }
});

test('a restore into an installation with users is refused without --force', async () => {
  const r = await atrium(['restore', backupDir]);
  assert.is(r.code, 1);
  assert.match(r.err, 'not empty');
  const f = await atrium(['restore', '--force', backupDir]);
  assert.is(f.code, 0, f.err + f.out);
  assert.match(f.out, 'chain intact');
  assert.is((await atrium(['audit:verify'])).code, 0);
});

test('a tampered, incomplete or unknown backup is refused naming the part', async () => {
  const copy = (name: string) => {
    const d = join(work, name);
    cpSync(backupDir, d, { recursive: true });
    return d;
  };
  const manifest = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8'));
  const blob = manifest.parts.find((p: { path: string }) => p.path.startsWith('blobs/')).path as string;

  const t1 = copy('tampered');
  const bytes = readFileSync(join(t1, blob));
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(join(t1, blob), bytes);
  const a = await atrium(['restore', '--force', t1]);
  assert.is(a.code, 1);
  assert.match(a.err, `part ${blob} does not match its SHA-256`);

  const t2 = copy('missing');
  rmSync(join(t2, manifest.database.file));
  const b = await atrium(['restore', '--force', t2]);
  assert.is(b.code, 1);
  assert.match(b.err, `part ${manifest.database.file} is missing`);

  const t3 = copy('resized');
  writeFileSync(join(t3, blob), Buffer.concat([readFileSync(join(t3, blob)), Buffer.from('x')]));
  const c = await atrium(['restore', '--force', t3]);
  assert.is(c.code, 1);
  assert.match(c.err, `part ${blob} has`);

  const t4 = copy('format');
  writeFileSync(join(t4, 'manifest.json'), JSON.stringify({ ...manifest, format: 'atrium-backup/99' }));
  const d = await atrium(['restore', '--force', t4]);
  assert.is(d.code, 1);
  assert.match(d.err, 'unknown format');

  const t5 = copy('edited');
  writeFileSync(join(t5, 'manifest.json'), JSON.stringify({ ...manifest, parts: manifest.parts.map((p: { path: string; sha256: string }) => (p.path === blob ? { ...p, sha256: '0'.repeat(64) } : p)) }));
  const e = await atrium(['restore', '--force', t5]);
  assert.is(e.code, 1);
  assert.match(e.err, blob);
});

test('--include-keys copies the master keys with a loud warning', async () => {
  const dir = join(work, 'with-keys');
  const r = await atrium(['backup', '--include-keys', dir]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, 'WARNING: --include-keys copied the MASTER KEYS');
  assert.ok(existsSync(join(dir, 'keys', 'storage.keys')));
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.is(m.keysIncluded, true);
  assert.ok(m.parts.some((p: { path: string }) => p.path === 'keys/storage.keys'));
});

test.run();
