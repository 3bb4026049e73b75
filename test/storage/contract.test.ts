// One contract for every blob store: the local-disk store and the S3 store (against s3rver, a
// local S3-compatible server) must behave the same, through the encrypted StorageService too.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import S3rver from 's3rver';
import pino from 'pino';
import { LocalBlobStore } from '../../core/storage/local.ts';
import { S3BlobStore } from '../../core/storage/s3.ts';
import type { BlobStore } from '../../core/storage/adapter.ts';
import { StorageService } from '../../core/storage/index.ts';
import { testConfig, freshDatabase } from '../helpers/app.ts';
import { systemClock } from '../../core/clock.ts';

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function failing(after: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(after);
      } else this.destroy(new Error('client went away'));
    },
  });
}

const dirs: string[] = [];
let s3server: S3rver;
let s3endpoint = '';

function contract(name: string, make: () => Promise<BlobStore>) {
  const t = suite(`blob store contract: ${name}`);
  let store: BlobStore;
  t.before(async () => {
    store = await make();
  });

  t('put returns a new random key; get returns the same bytes', async () => {
    const data = randomBytes(100_000);
    const k1 = await store.put(Readable.from([data]));
    const k2 = await store.put(Readable.from([data]));
    assert.match(k1, /^[0-9a-f]{32}$/);
    assert.is.not(k1, k2);
    assert.ok((await collect(await store.get(k1))).equals(data));
    assert.is(await store.size(k1), data.length);
  });

  t('a byte range is inclusive; an open range reads to the end', async () => {
    const data = randomBytes(50_000);
    const k = await store.put(Readable.from([data]));
    assert.ok((await collect(await store.get(k, { start: 10, end: 19 }))).equals(data.subarray(10, 20)));
    assert.ok((await collect(await store.get(k, { start: 49_990 }))).equals(data.subarray(49_990)));
  });

  t('a large stream (several multipart parts on S3) round-trips', async () => {
    const data = randomBytes(17 * 1024 * 1024 + 5);
    const k = await store.put(Readable.from((function* () {
      for (let i = 0; i < data.length; i += 1 << 20) yield data.subarray(i, i + (1 << 20));
    })()));
    assert.ok((await collect(await store.get(k))).equals(data));
  });

  t('a failing source leaves no blob behind and throws', async () => {
    const before: string[] = [];
    for await (const b of store.list()) before.push(b.key);
    await store.put(failing(randomBytes(1000))).then(
      () => assert.unreachable('should have thrown'),
      (err: Error) => assert.match(err.message, 'went away'),
    );
    const after: string[] = [];
    for await (const b of store.list()) after.push(b.key);
    assert.equal(after.sort(), before.sort());
    assert.is(await store.cleanPartial(Date.now() + 1000), 0);
  });

  t('delete removes; deleting twice is fine; size of a missing blob is null', async () => {
    const k = await store.put(Readable.from([Buffer.from('x')]));
    await store.delete(k);
    await store.delete(k);
    assert.is(await store.size(k), null);
    const keys: string[] = [];
    for await (const b of store.list()) keys.push(b.key);
    assert.not.ok(keys.includes(k));
  });

  t('keys that are not random hex are refused (no path or object name from user input)', async () => {
    for (const bad of ['../../etc/passwd', '%2e%2e%2f', 'a\u0000b', 'ABCDEF0123456789ABCDEF0123456789', '']) {
      await store.get(bad).then(
        () => assert.unreachable(`accepted ${JSON.stringify(bad)}`),
        (err: Error) => assert.match(err.message, 'ATR_NOT_FOUND'),
      );
    }
  });

  t('the encrypted service round-trips, serves ranges and never stores plaintext', async () => {
    const db = await freshDatabase();
    dirs.push(db.dataDir);
    const config = testConfig(db);
    const svc = new StorageService(config, store, systemClock, pino({ level: 'silent' }));
    const data = Buffer.concat([Buffer.from('PLAINTEXT-MARKER'), randomBytes(200_000)]);
    const blob = await svc.put(Readable.from([data]), { bind: 'test:1:1' });
    assert.is(blob.size, data.length);
    const raw = await collect(await store.get(blob.key));
    assert.not.ok(raw.includes(Buffer.from('PLAINTEXT-MARKER')), 'ciphertext only at rest');
    // A fake knex table for the one row open() reads.
    const row = { key: blob.key, size: blob.size, sha256: blob.sha256, key_id: blob.keyId, wrapped_key: blob.wrappedKey, bind: blob.bind };
    const fakeDb = (() => ({ where: () => ({ first: async () => row }) })) as never;
    assert.ok((await collect((await svc.open(fakeDb, blob.key, { bind: 'test:1:1' })).stream)).equals(data));
    assert.ok((await collect((await svc.open(fakeDb, blob.key, { bind: 'test:1:1', start: 65_530, end: 131_080 })).stream)).equals(data.subarray(65_530, 131_081)));
    await db.drop();
  });

  t('large blobs go through the threaded pipeline on this store too: whole, ranges, writeTo, tamper', async () => {
    const db = await freshDatabase();
    dirs.push(db.dataDir);
    const svc = new StorageService(testConfig(db), store, systemClock, pino({ level: 'silent' }));
    const data = randomBytes(5 * 1024 * 1024 + 333);
    // Odd-sized pieces: copies into the shared slabs start at every alignment.
    const pieces: Buffer[] = [];
    for (let at = 0; at < data.length; at += 99_991) pieces.push(data.subarray(at, at + 99_991));
    const blob = await svc.put(Readable.from(pieces), { bind: 'test:big:1' });
    assert.is(blob.size, data.length);
    const row = { key: blob.key, size: blob.size, sha256: blob.sha256, key_id: blob.keyId, wrapped_key: blob.wrappedKey, bind: blob.bind };
    const fakeDb = (() => ({ where: () => ({ first: async () => row }) })) as never;
    assert.ok((await collect((await svc.open(fakeDb, blob.key, { bind: 'test:big:1' })).stream)).equals(data));
    const [a, b] = [1_000_003, 4_500_001];
    assert.ok((await collect((await svc.open(fakeDb, blob.key, { bind: 'test:big:1', start: a, end: b })).stream)).equals(data.subarray(a, b + 1)));
    const got: Buffer[] = [];
    await (await svc.open(fakeDb, blob.key, { bind: 'test:big:1' })).writeTo(new Writable({ write: (c: Buffer, _e, cb) => (got.push(Buffer.from(c)), cb()) }));
    assert.ok(Buffer.concat(got).equals(data));
    // A wrong recorded digest stops the read (before the last slab is released).
    const bad = { ...row, sha256: '0'.repeat(64) };
    const badDb = (() => ({ where: () => ({ first: async () => bad }) })) as never;
    await collect((await svc.open(badDb, blob.key, { bind: 'test:big:1' })).stream).then(
      () => assert.unreachable('a wrong digest was accepted'),
      (err: Error) => assert.match(err.message, /ATR_STORAGE_INTEGRITY/),
    );
    await db.drop();
  });

  return t;
}

const local = contract('local disk', async () => {
  const d = mkdtempSync(join(tmpdir(), 'atrium-blobs-'));
  dirs.push(d);
  return new LocalBlobStore(d);
});

local('a crashed write leaves only a .part file, which cleanPartial removes; put fsyncs and renames', async () => {
  const d = mkdtempSync(join(tmpdir(), 'atrium-blobs-'));
  dirs.push(d);
  const store = new LocalBlobStore(d);
  const k = await store.put(Readable.from([Buffer.from('hello')]));
  assert.equal(readdirSync(join(d, 'tmp')), []);
  assert.equal(readdirSync(join(d, k.slice(0, 2))), [k]);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(d, 'tmp', 'deadbeef.part'), 'partial');
  assert.is(await store.cleanPartial(Date.now() - 60_000), 0, 'young partial files are kept');
  assert.is(await store.cleanPartial(Date.now() + 1000), 1);
  assert.equal(readdirSync(join(d, 'tmp')), []);
});

local.run();

const s3 = contract('S3 (s3rver)', async () => {
  const d = mkdtempSync(join(tmpdir(), 'atrium-s3rver-'));
  dirs.push(d);
  s3server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: d, configureBuckets: [{ name: 'atrium-test', configs: [] }] });
  const addr = (await s3server.run()) as { port: number };
  s3endpoint = `http://127.0.0.1:${addr.port}`;
  return new S3BlobStore({ endpoint: s3endpoint, region: 'us-east-1', bucket: 'atrium-test', prefix: 'blobs/', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
});

s3.after(async () => {
  await s3server?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

s3.run();
