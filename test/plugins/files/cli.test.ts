// The files plugin's operator commands as real `atrium` processes against a server's database:
// `keys:rotate` re-wraps every file key and removes the old master key, after which every file
// still downloads and decrypts; `files:scrub` reports a clean store as clean, and flags (and
// audits) a version whose blob was corrupted on disk.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { freshDatabase, startApp, type TestApp, type TestDb } from '../../helpers/app.ts';
import { keyRingFile } from '../../../core/storage/keys.ts';
import type { LocalBlobStore } from '../../../core/storage/local.ts';
import { HEADER } from '../../../core/storage/crypto.ts';
import { filesWorld, upload, download, pdf } from './helpers.ts';

const run = promisify(execFile);
const test = suite('files CLI: keys:rotate and files:scrub');
let db: TestDb;
const files = new Map<string, Buffer>();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function envFor(d: TestDb): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ATRIUM_') && k !== 'DATABASE_URL' && k !== 'PORT'));
  const dbo = d.overrides.database as { url: string; schema?: string };
  return {
    ...clean,
    ATRIUM_DATA_DIR: d.dataDir,
    ATRIUM_LOG_LEVEL: 'warn',
    ATRIUM_PLUGINS: 'files',
    ...(dbo.url ? { DATABASE_URL: dbo.url } : {}),
    ...(dbo.schema ? { ATRIUM_DB_SCHEMA: dbo.schema } : {}),
  };
}

async function atrium(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/atrium.js', ...args], { env: envFor(db), timeout: 120_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

/** Restart a server on the same database and sign in the staff member filesWorld created. */
async function restart(): Promise<{ app: TestApp; staff: ReturnType<TestApp['client']> }> {
  const app = await startApp({ db, plugins: ['files'], overrides: { storage: { orphanGraceMinutes: 60 } } });
  const staff = app.client();
  const r = await staff.login('staff@acme.example', 'files-test-password-123');
  if (r.status !== 303) throw new Error(`login: ${r.status}`);
  return { app, staff };
}

test.before(async () => {
  db = await freshDatabase();
  const w = await filesWorld({ db, overrides: { storage: { orphanGraceMinutes: 60 } } });
  try {
    files.set('one.pdf', pdf(randomBytes(200_000).toString('base64')));
    files.set('two.txt', Buffer.from('two, a short text file'));
    files.set('three.txt', Buffer.from('x'.repeat(64 * 1024 * 2 + 7)));
    for (const [name, data] of files) assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name, data }])).status, 200, name);
    // A second version of one file: scrub and rotation cover every version, not only the current.
    files.set('two.txt', Buffer.from('two, version two'));
    assert.is((await upload(w.as.staff, `${w.base}/upload`, [{ name: 'two.txt', data: files.get('two.txt')! }])).status, 200);
  } finally {
    await w.app.close();
  }
});
test.after(async () => {
  await db.drop();
});

test('files:scrub reports a clean store as clean (exit 0, no audit event)', async () => {
  const r = await atrium(['files:scrub']);
  assert.is(r.code, 0, r.out + r.err);
  assert.match(r.out, '4 version(s) checked, 0 corrupt.');
  const json = await atrium(['files:scrub', '--json']);
  assert.equal(JSON.parse(json.out.trim().split('\n').pop()!), { checked: 4, corrupt: [] });
});

test('keys:rotate re-wraps every file key, drops the old master key, and every file still downloads', async () => {
  const ringBefore = readFileSync(keyRingFile({ dataDir: db.dataDir }), 'utf8');
  const oldIds = ringBefore.split('\n').filter((l) => /^[A-Za-z0-9_-]+:/.test(l)).map((l) => l.split(':')[0]!);
  assert.equal(oldIds, ['k1']);
  const r = await atrium(['keys:rotate']);
  assert.is(r.code, 0, r.out + r.err);
  assert.match(r.out, 'Re-wrapped 4 file key(s) under master key k2.');
  assert.match(r.out, 'Removed old master key(s) k1');
  const ringAfter = readFileSync(keyRingFile({ dataDir: db.dataDir }), 'utf8');
  assert.not.match(ringAfter, /^k1:/m);
  assert.match(ringAfter, /^k2:/m);
  // The old key's material is gone from the file, not only its id.
  assert.not.ok(ringAfter.includes(ringBefore.split('\n').find((l) => l.startsWith('k1:'))!.slice(3)));
  assert.is(statSync(keyRingFile({ dataDir: db.dataDir })).mode & 0o777, 0o600);

  const { app, staff } = await restart();
  try {
    assert.equal((await app.kernel.db('storage_blobs').distinct('key_id').pluck('key_id')) as string[], ['k2']);
    assert.ok(await app.kernel.db('audit_events').where({ action: 'core.keys.rotate', subject_id: 'k2' }).first());
    for (const [name, data] of files) {
      const id = String((await app.kernel.db('files_files').where({ name }).first('id')).id);
      const d = await download(staff, `/w/acme/files/f/${id}/download`);
      assert.is(d.status, 200, name);
      assert.is(sha(d.body), sha(data), name);
    }
    // Older versions too, read straight from storage.
    const versions = (await app.kernel.db('files_versions').select('id', 'file_id', 'blob_key', 'sha256')) as Array<{ id: string; file_id: string; blob_key: string; sha256: string }>;
    assert.is(versions.length, 4);
    for (const v of versions) assert.is(await app.kernel.storage.verify(app.kernel.db, v.blob_key, `files:${v.file_id}:${v.id}`), null);
  } finally {
    await app.close();
  }
});

test('files:scrub flags a version whose blob had a byte flipped on disk, and audits it', async () => {
  const { app } = await restart();
  let target: { id: string; workspace_id: string; file_id: string; blob_key: string };
  try {
    const fileId = String((await app.kernel.db('files_files').where({ name: 'three.txt' }).first('id')).id);
    target = await app.kernel.db('files_versions').where({ file_id: fileId }).first('id', 'workspace_id', 'file_id', 'blob_key');
    const path = (app.kernel.storage.store as LocalBlobStore).pathOf(target.blob_key);
    const bytes = readFileSync(path);
    bytes[HEADER + 70_000]! ^= 0x01; // inside the second chunk's ciphertext
    writeFileSync(path, bytes);
  } finally {
    await app.close();
  }
  const r = await atrium(['files:scrub']);
  assert.is(r.code, 1, r.out + r.err);
  assert.match(r.out, `CORRUPT  workspace ${target.workspace_id}  file ${target.file_id}  version ${target.id}`);
  assert.match(r.out, 'chunk 1 failed authentication');
  assert.match(r.out, '4 version(s) checked, 1 corrupt.');
  const again = await restart();
  try {
    const events = (await again.app.kernel.db('audit_events').where({ action: 'files.version.corrupt' }).select('subject_id', 'workspace_id')) as Array<{ subject_id: string; workspace_id: string }>;
    assert.equal(events, [{ subject_id: target.id, workspace_id: target.workspace_id }]);
    // The server refuses to release the corrupted chunk too.
    const d = await download(again.staff, `/w/acme/files/f/${target.file_id}/download`).catch((err: Error) => ({ status: -1, body: Buffer.alloc(0), err }));
    assert.ok(d.status === -1 || d.body.length < files.get('three.txt')!.length, 'the corrupt file is not served whole');
  } finally {
    await again.app.close();
  }
});

test.run();
