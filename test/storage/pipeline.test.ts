// The large-blob pipelines (core/storage/pipeline.ts: AES-256-GCM and SHA-256 on two threads over
// shared slabs): the digest is createHash's and the bytes read back are the bytes stored, whatever
// the chunking and on either side of the one-slab threshold; the format is the same as the
// single-chunk reference (sealChunk); jobs running at once do not mix; an abandoned read does not
// disturb the next; and blobs large enough to use the threads keep every integrity property
// (recorded digest checked before the last slab is released, tampering refused, limits hit
// mid-stream leave nothing behind).
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { startApp, type TestApp } from '../helpers/app.ts';
import { transaction } from '../../core/db/index.ts';
import { CHUNK, HEADER, TAG, openChunk, readHeader } from '../../core/storage/crypto.ts';
import type { LocalBlobStore } from '../../core/storage/local.ts';
import type { StorageService, StoredBlob } from '../../core/storage/index.ts';
import { copyIntoShared, stopCryptoThreads } from '../../core/storage/pipeline.ts';

const test = suite('storage pipeline');
let app: TestApp;
let storage: StorageService;

test.before(async () => {
  app = await startApp({ plugins: [] });
  storage = app.kernel.storage;
});
test.after(async () => {
  await app.close();
});

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) out.push(data.subarray(at, at + size));
  return out;
}

test('digest and bytes round-trip on either side of the one-slab threshold and for any chunking', async () => {
  for (const [size, piece] of [[0, 1], [1000, 100], [MiB - 1, 65536], [MiB, 65536], [MiB + 1, 65537], [2 * MiB, MiB], [3 * MiB + 17, 4099], [9 * MiB + 5, 9 * MiB + 5]] as const) {
    const data = randomBytes(size);
    const b = await store(size ? pieces(data, piece) : [], `files:sizes:${size}`);
    assert.is(b.size, size, `${size} bytes: size`);
    assert.is(b.sha256, sha(data), `${size} bytes in pieces of ${piece}: digest`);
    const back = await read(b.key, b.bind);
    assert.is(back.err, null);
    assert.ok(back.out.equals(data), `${size} bytes read back`);
  }
});

test('copyIntoShared copies exactly the source bytes into shared memory at any alignment, and nothing around them', () => {
  const src = randomBytes(70_000);
  for (const [from, to, len] of [[0, 0, 65536], [3, 0, 65536], [0, 5, 65536], [7, 1, 1], [1, 6, 69_999], [4, 4, 17], [2, 3, 0]] as const) {
    const mem = Buffer.from(new SharedArrayBuffer(140_000)).fill(0xee);
    copyIntoShared(src.subarray(from, from + len), mem, to);
    assert.ok(mem.subarray(to, to + len).equals(src.subarray(from, from + len)), `from ${from} to ${to}, ${len} bytes`);
    assert.ok(mem.subarray(0, to).every((b) => b === 0xee) && mem.subarray(to + len).every((b) => b === 0xee), `from ${from} to ${to}: bytes around untouched`);
  }
});

test('what the threads write is the reference format: every frame opens with openChunk', async () => {
  const data = randomBytes(3 * MiB + 1000);
  const b = await store(pieces(data, 70_000), 'files:format:1');
  const raw = readFileSync(pathOf(b.key));
  assert.is(raw.length, HEADER + data.length + Math.ceil(data.length / CHUNK) * TAG);
  const prefix = readHeader(raw.subarray(0, HEADER));
  const dek = storage.keys.get(b.keyId);
  const { unwrapKey } = await import('../../core/storage/crypto.ts');
  const key = unwrapKey(dek, b.keyId, b.wrappedKey, b.bind);
  const chunks = Math.ceil(data.length / CHUNK);
  const out: Buffer[] = [];
  for (let i = 0, at = HEADER; i < chunks; i++) {
    const len = i === chunks - 1 ? data.length - i * CHUNK : CHUNK;
    out.push(openChunk(key, prefix, Buffer.from(b.bind), i, i === chunks - 1, raw.subarray(at, at + len), raw.subarray(at + len, at + len + TAG)));
    at += len + TAG;
  }
  assert.ok(Buffer.concat(out).equals(data));
});

test('jobs running at once keep their own state', async () => {
  const datas = [randomBytes(5 * MiB + 3), randomBytes(3 * MiB), randomBytes(7 * MiB + 11)];
  const blobs = await Promise.all(datas.map((d, i) => store(pieces(d, 50_000 + i * 7_919), `files:together:${i}`)));
  blobs.forEach((b, i) => assert.is(b.sha256, sha(datas[i]!)));
  const back = await Promise.all(blobs.map((b) => read(b.key, b.bind)));
  back.forEach((r, i) => assert.ok(r.out.equals(datas[i]!), `blob ${i} read back`));
});

test('an abandoned read does not disturb the next one', async () => {
  const data = randomBytes(6 * MiB);
  const b = await store([data], 'files:abandon:1');
  const opened = await storage.open(app.kernel.db, b.key, { bind: b.bind });
  for await (const _ of opened.stream) break;
  const again = await read(b.key, b.bind);
  assert.is(again.err, null);
  assert.ok(again.out.equals(data));
});

test('writeTo hands the plaintext to a writable without copies and ends clean', async () => {
  const data = randomBytes(5 * MiB + 77);
  const b = await store([data], 'files:writeto:1');
  const parts: Buffer[] = [];
  const sink = new Writable({ highWaterMark: 64 * 1024, write: (c: Buffer, _e, cb) => { parts.push(Buffer.from(c)); setImmediate(cb); } });
  const opened = await storage.open(app.kernel.db, b.key, { bind: b.bind });
  await opened.writeTo(sink);
  assert.ok(Buffer.concat(parts).equals(data));
  // A destination that goes away mid-way makes writeTo fail instead of hanging.
  const gone: Writable = new Writable({ write: () => setImmediate(() => gone.destroy()) });
  const opened2 = await storage.open(app.kernel.db, b.key, { bind: b.bind });
  await opened2.writeTo(gone).then(
    () => assert.unreachable('writeTo resolved after its destination closed'),
    (err: Error) => assert.match(err.message, /closed/),
  );
});

test('a crypto thread that dies mid-blob fails that blob cleanly (nothing left behind); the next blob starts new threads', async () => {
  const tmp = join((storage.store as LocalBlobStore).root, 'tmp');
  const before = readdirSync(tmp).length;
  const data = randomBytes(8 * MiB);
  let sent = 0;
  const source = new Readable({
    read() {
      if (sent >= data.length) return void this.push(null);
      const piece = data.subarray(sent, sent + 512 * 1024);
      sent += piece.length;
      // Halfway through, the threads go away (as if one had crashed).
      if (sent === 4 * MiB) void stopCryptoThreads().then(() => this.push(piece));
      else this.push(piece);
    },
  });
  await storage.put(source, { bind: 'files:crash:1' }).then(
    () => assert.unreachable('the blob was stored without its threads'),
    (err: Error) => assert.match(err.message, /thread stopped|exit code|closed/),
  );
  assert.is(readdirSync(tmp).length, before, 'no partial file left');
  const b = await store(pieces(data, 70_000), 'files:crash:2');
  assert.is(b.sha256, sha(data));
  const back = await read(b.key, b.bind);
  assert.ok(back.out.equals(data));
});

// ---- through the storage service, with blobs large enough to use the worker

const big = randomBytes(6 * MiB + 1234);

async function store(parts: Buffer[], bind: string, limit?: number): Promise<StoredBlob> {
  const blob = await storage.put(Readable.from(parts), { bind, ...(limit === undefined ? {} : { limit }) });
  await transaction(app.kernel.db, (trx) => storage.record(trx, blob, { plugin: 'core', workspaceId: null }));
  return blob;
}

async function read(key: string, bind: string, range: { start?: number; end?: number } = {}): Promise<{ out: Buffer; err: Error | null }> {
  const parts: Buffer[] = [];
  try {
    const { stream } = await storage.open(app.kernel.db, key, { bind, ...range });
    for await (const c of stream) parts.push(c as Buffer);
    return { out: Buffer.concat(parts), err: null };
  } catch (err) {
    return { out: Buffer.concat(parts), err: err as Error };
  }
}

const pathOf = (key: string) => (storage.store as LocalBlobStore).pathOf(key);

test('a large blob stores the SHA-256 of its plaintext and reads back whole and in ranges', async () => {
  const b = await store(pieces(big, 65_000), 'files:big:1');
  assert.is(b.size, big.length);
  assert.is(b.sha256, sha(big));
  const whole = await read(b.key, b.bind);
  assert.is(whole.err, null);
  assert.ok(whole.out.equals(big));
  const part = await read(b.key, b.bind, { start: 3 * MiB - 5, end: 5 * MiB + 7 });
  assert.is(part.err, null);
  assert.ok(part.out.equals(big.subarray(3 * MiB - 5, 5 * MiB + 8)));
});

test('a large blob whose recorded digest is wrong is refused before its last chunk is released', async () => {
  const b = await store([big], 'files:big:2');
  await app.kernel.db('storage_blobs').where({ key: b.key }).update({ sha256: sha(Buffer.from('something else')) });
  const { out, err } = await read(b.key, b.bind);
  assert.ok(err);
  assert.match(err!.message, /ATR_STORAGE_INTEGRITY/);
  const lastChunkStart = Math.floor((big.length - 1) / CHUNK) * CHUNK;
  assert.ok(out.length <= lastChunkStart, `released ${out.length} bytes, at most ${lastChunkStart}`);
  assert.ok(out.equals(big.subarray(0, out.length)));
});

test('a flipped byte in a large blob is refused at its chunk', async () => {
  const b = await store([big], 'files:big:3');
  const raw = readFileSync(pathOf(b.key));
  raw[HEADER + 40 * (CHUNK + TAG) + 7]! ^= 1;
  writeFileSync(pathOf(b.key), raw);
  const { out, err } = await read(b.key, b.bind);
  assert.ok(err);
  assert.match(err!.message, /ATR_STORAGE_INTEGRITY/);
  assert.ok(out.length <= 40 * CHUNK);
});

// Reads open their slabs (16 chunks each) on two AES threads in turn: slab 1 (chunks 16-31) on the
// second thread, slab 2 (chunks 32-47) on the first. Each case breaks a blob there and checks that
// the read fails with ATR_STORAGE_INTEGRITY and that nothing from the broken chunk on was released;
// a range across the damage fails too, and one that starts after it (where there is one) reads.
const FRAME = CHUNK + TAG;
const at = (chunk: number) => HEADER + chunk * FRAME;
// [name, damage, first broken chunk, first chunk of the intact rest (none after a truncation)]
const broken: Array<[string, (raw: Buffer) => Buffer, number, number | null]> = [
  ['a flipped byte in a slab of the second thread', (raw) => { raw[at(20) + 9]! ^= 1; return raw; }, 20, 21],
  ['a flipped tag byte in the last chunk of the second thread\'s slab', (raw) => { raw[at(31) + CHUNK + 3]! ^= 1; return raw; }, 31, 32],
  ['frames of the two threads swapped (chunks 17 and 33)', (raw) => Buffer.concat([raw.subarray(0, at(17)), raw.subarray(at(33), at(34)), raw.subarray(at(18), at(33)), raw.subarray(at(17), at(18)), raw.subarray(at(34))]), 17, 34],
  ['two whole slabs swapped (chunks 16-31 with 32-47)', (raw) => Buffer.concat([raw.subarray(0, at(16)), raw.subarray(at(32), at(48)), raw.subarray(at(16), at(32)), raw.subarray(at(48))]), 16, 48],
  ['truncated inside a slab of the second thread', (raw) => raw.subarray(0, at(50) + 1000), 50, null],
  ['truncated at a slab boundary', (raw) => raw.subarray(0, at(64)), 64, null],
];
for (const [name, mutate, bad, clean] of broken) {
  test(`refused on the two-thread read path: ${name}`, async () => {
    const data = randomBytes(5 * MiB + 4321); // 81 chunks: slabs 0-5 on alternating threads
    const b = await store([data], `files:parallel:${bad}:${name.length}`);
    writeFileSync(pathOf(b.key), mutate(readFileSync(pathOf(b.key))));
    const { out, err } = await read(b.key, b.bind);
    assert.ok(err, 'the read failed');
    assert.match(err!.message, /ATR_STORAGE_INTEGRITY/);
    assert.ok(out.length <= bad * CHUNK, `released ${out.length} bytes, at most ${bad * CHUNK}`);
    assert.ok(out.equals(data.subarray(0, out.length)), 'what was released is the blob\'s own prefix');
    const across = await read(b.key, b.bind, { start: 3, end: (bad + 2) * CHUNK });
    assert.ok(across.err, 'a range across the damage fails');
    if (clean !== null) {
      const after = await read(b.key, b.bind, { start: clean * CHUNK + 5, end: data.length - 1 });
      assert.is(after.err, null, 'a range after the damage reads');
      assert.ok(after.out.equals(data.subarray(clean * CHUNK + 5)));
    }
  });
}

test('the two-thread read path lends slabs in order to a slow reader and does not read far ahead of it', async () => {
  const data = randomBytes(24 * MiB + 999);
  const b = await store([data], 'files:parallel:order');
  // Watch how far the store is read ahead of what the reader has taken.
  const local = storage.store as LocalBlobStore;
  const reader = local.reader.bind(local);
  let readTo = 0;
  let written = 0;
  let ahead = 0;
  local.reader = async (key: string) => {
    const r = await reader(key);
    return {
      ...r,
      read: async (into: Buffer, length: number, position: number) => {
        const n = await r.read(into, length, position);
        readTo = Math.max(readTo, position + n);
        ahead = Math.max(ahead, readTo - written);
        return n;
      },
    };
  };
  const parts: Buffer[] = [];
  // Each write is held back a while, so later slabs finish decrypting before earlier ones are
  // taken: they must still come out in order, and the read must wait for the reader.
  const sink = new Writable({
    highWaterMark: 1,
    write: (c: Buffer, _e, cb) => {
      parts.push(Buffer.from(c));
      setTimeout(() => {
        written += c.length;
        cb();
      }, 3);
    },
  });
  try {
    const opened = await storage.open(app.kernel.db, b.key, { bind: b.bind });
    await opened.writeTo(sink);
  } finally {
    delete (local as { reader?: unknown }).reader; // back to the prototype's
  }
  assert.ok(Buffer.concat(parts).equals(data), 'every byte, in order');
  assert.ok(ahead <= 10 * MiB, `read at most 10 MiB ahead of the reader (saw ${(ahead / MiB).toFixed(1)} MiB)`);
  // And ranges that start on either thread's slab.
  for (const [start, end] of [[MiB + 7, 5 * MiB], [2 * MiB - 1, 2 * MiB + 1], [3 * MiB + 65536, data.length - 1]] as const) {
    const r = await read(b.key, b.bind, { start, end });
    assert.is(r.err, null);
    assert.ok(r.out.equals(data.subarray(start, end + 1)), `range ${start}-${end}`);
  }
});

test('a limit passed mid-stream by a large upload fails with ATR_TOO_LARGE and leaves nothing', async () => {
  const tmp = join((storage.store as LocalBlobStore).root, 'tmp');
  const before = readdirSync(tmp).length;
  try {
    await store(pieces(big, 65536), 'files:big:4', 3 * MiB);
    assert.unreachable('the limit was not enforced');
  } catch (err) {
    assert.match((err as Error).message, /ATR_TOO_LARGE|more than/);
  }
  assert.is(readdirSync(tmp).length, before);
  // The worker is still usable afterwards.
  const b = await store(pieces(big, 100_000), 'files:big:5');
  assert.is(b.sha256, sha(big));
});

test.run();
