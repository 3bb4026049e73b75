// Blob storage for every plugin (files, attachments, logos, PDFs): streamed in and out, never
// buffered whole, encrypted at rest (crypto.ts) under a per-blob key wrapped by the master-key
// ring (keys.ts), on local disk or S3-compatible storage (adapter.ts).
//
// The life of a blob:
//   put(stream, { bind })            encrypt while streaming, write atomically -> StoredBlob
//   record(trx, blob, owner)         the `storage_blobs` row, in the caller's transaction
//                                    (a crash before COMMIT leaves an orphan, never a dangling row)
//   open(db, key, { bind, range })   decrypt while streaming; bind must match what put() was given
//   remove(trx, key)                 drop the row; the bytes go after COMMIT
//   sweep()                          blobs with no row (older than the grace period) and
//                                    unfinished writes are removed
// Master keys never reach the database: a row holds the blob key wrapped under a key id.
import type { JobRunner } from '../jobs.ts';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { AtriumConfig } from '../config/schema.ts';
import type { Clock } from '../clock.ts';
import { afterCommit, type Db, type Trx } from '../db/index.ts';
import { AtriumError } from '../errors.ts';
import type { BlobStore } from './adapter.ts';
import { ALG, DecryptStream, EncryptStream, HEADER, blobSize, cipherRange, integrity, readHeader, unwrapKey, wrapKey } from './crypto.ts';
import { KeyRing } from './keys.ts';
import { LocalBlobStore } from './local.ts';

export type { BlobStore } from './adapter.ts';
export { KeyRing } from './keys.ts';

export interface StoredBlob {
  key: string;
  /** Plaintext size in bytes. */
  size: number;
  /** SHA-256 of the plaintext, hex. */
  sha256: string;
  keyId: string;
  wrappedKey: string;
  bind: string;
}

export interface OpenedBlob {
  stream: Readable;
  size: number;
  sha256: string;
}

interface BlobRow {
  key: string;
  size: number | string;
  sha256: string;
  key_id: string;
  wrapped_key: string;
  bind: string;
}

export function createBlobStore(config: AtriumConfig): BlobStore {
  const s = config.storage;
  if (s.driver === 's3') return lazyS3(s.s3);
  return new LocalBlobStore(s.dir ? resolve(s.dir) : join(config.dataDir, 'blobs'));
}

async function readExactly(stream: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let len = 0;
  for await (const c of stream) {
    parts.push(c as Buffer);
    len += (c as Buffer).length;
  }
  const all = Buffer.concat(parts, len);
  if (all.length < n) throw integrity('the blob is shorter than its header');
  return all.subarray(0, n);
}

export class StorageService {
  readonly keys: KeyRing;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly config: AtriumConfig,
    readonly store: BlobStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.keys = new KeyRing(config);
  }

  /**
   * Encrypt and store a stream. `bind` is the owner's context for this blob (for example
   * `files:<fileId>:<version>`): the same string must be given to open(). With `limit`, the
   * stream fails with ATR_TOO_LARGE (413) once the plaintext passes it, and nothing is kept.
   */
  async put(source: Readable, opts: { bind: string; limit?: number }): Promise<StoredBlob> {
    const master = this.keys.current();
    const dek = randomBytes(32);
    const enc = new EncryptStream(dek, Buffer.from(opts.bind), opts.limit);
    source.on('error', (err) => enc.destroy(err));
    // The store attaches its own handlers after its first await; an early error (a limit hit in
    // the first chunks) must not go unhandled meanwhile. The store still sees it and rejects.
    enc.on('error', () => undefined);
    const key = await this.store.put(source.pipe(enc));
    const { size, sha256 } = enc.result();
    return { key, size, sha256, keyId: master.id, wrappedKey: wrapKey(master.key, master.id, dek, opts.bind), bind: opts.bind };
  }

  /** The blob's row, in the caller's transaction, so row and business data commit together. */
  async record(trx: Trx, blob: StoredBlob, owner: { plugin: string; workspaceId: string | null }): Promise<void> {
    await trx('storage_blobs').insert({
      key: blob.key,
      owner: owner.plugin,
      workspace_id: owner.workspaceId,
      size: blob.size,
      sha256: blob.sha256,
      alg: ALG,
      key_id: blob.keyId,
      wrapped_key: blob.wrappedKey,
      bind: blob.bind,
      created_at: this.clock.now(),
    });
  }

  /** Delete the bytes of a blob whose row was never committed (the caller's transaction failed). */
  async discard(blob: Pick<StoredBlob, 'key'>): Promise<void> {
    await this.store.delete(blob.key).catch((err) => this.logger.warn({ err, key: blob.key }, 'could not discard blob; the sweeper will'));
  }

  /** Drop the row in `trx`; the bytes are deleted after COMMIT (or by the sweeper after a crash). */
  async remove(trx: Trx, key: string): Promise<void> {
    await trx('storage_blobs').where({ key }).delete();
    afterCommit(trx, () => this.store.delete(key).catch((err) => this.logger.warn({ err, key }, 'could not delete blob; the sweeper will')));
  }

  private async row(db: Db | Trx, key: string): Promise<BlobRow> {
    const row = (await db('storage_blobs').where({ key }).first('key', 'size', 'sha256', 'key_id', 'wrapped_key', 'bind')) as BlobRow | undefined;
    if (!row) throw new AtriumError('ATR_NOT_FOUND', 'no such blob', { status: 404 });
    return row;
  }

  /**
   * Decrypt a blob as a stream, whole or the inclusive plaintext range [start, end]. Every chunk
   * is authenticated before its bytes are released; a whole read also checks the SHA-256 before
   * releasing the last chunk. A failure errors the stream (ATR_STORAGE_INTEGRITY).
   */
  async open(db: Db | Trx, key: string, opts: { bind: string; start?: number; end?: number }): Promise<OpenedBlob> {
    const row = await this.row(db, key);
    if (row.bind !== opts.bind) throw integrity(`blob ${key} belongs to another owner`);
    const size = Number(row.size);
    const dek = unwrapKey(this.keys.get(row.key_id), row.key_id, row.wrapped_key, row.bind);
    const prefix = readHeader(await readExactly(await this.store.get(key, { start: 0, end: HEADER - 1 }), HEADER));
    const o = { size, sha256: row.sha256, start: opts.start, end: opts.end };
    const r = cipherRange(o);
    const dec = new DecryptStream(dek, prefix, Buffer.from(opts.bind), o);
    // A whole read takes the rest of the blob, so bytes appended after the last chunk are caught.
    const whole = (opts.start ?? 0) === 0 && (opts.end === undefined || opts.end >= size - 1);
    const src = await this.store.get(key, whole ? { start: r.from } : { start: r.from, end: r.to });
    src.on('error', (err) => dec.destroy(err));
    dec.on('close', () => src.destroy());
    return { stream: src.pipe(dec), size, sha256: row.sha256 };
  }

  /** Read and authenticate a whole blob; null when it is intact, else the reason. */
  async verify(db: Db | Trx, key: string, bind: string): Promise<string | null> {
    try {
      const row = await this.row(db, key);
      const stored = await this.store.size(key);
      if (stored === null) return 'the blob is missing';
      if (stored !== blobSize(Number(row.size))) return `the blob is ${stored} bytes, expected ${blobSize(Number(row.size))}`;
      const { stream } = await this.open(db, key, { bind });
      for await (const _ of stream) void _;
      return null;
    } catch (err) {
      return err instanceof AtriumError ? (err.detail ?? err.message) : (err as Error).message;
    }
  }

  /**
   * Remove blobs that no row references and unfinished writes, both older than the grace period
   * (an upload between its rename and its COMMIT must not lose its bytes).
   */
  async sweep(db: Db, graceMs = this.config.storage.orphanGraceMinutes * 60_000): Promise<{ orphans: number; partial: number }> {
    const cutoff = this.clock.now() - graceMs;
    const partial = await this.store.cleanPartial(cutoff);
    let orphans = 0;
    let batch: string[] = [];
    const flush = async () => {
      const known = new Set((await db('storage_blobs').whereIn('key', batch).pluck('key')) as string[]);
      for (const key of batch) {
        if (!known.has(key)) {
          await this.store.delete(key);
          orphans++;
        }
      }
      batch = [];
    };
    for await (const b of this.store.list()) {
      if (b.modifiedAt > cutoff) continue;
      batch.push(b.key);
      if (batch.length >= 500) await flush();
    }
    if (batch.length) await flush();
    if (orphans || partial) this.logger.info({ orphans, partial }, 'storage sweep removed leftovers');
    return { orphans, partial };
  }

  /**
   * Re-wrap every blob key under the current master key; the blobs themselves are not rewritten.
   * A row whose key cannot be unwrapped (tampered, or its master key is gone) is skipped and
   * reported in `failed`; it keeps its old wrapping.
   */
  async rewrapAll(db: Db): Promise<{ rewrapped: number; failed: string[]; remaining: number }> {
    const current = this.keys.current();
    let rewrapped = 0;
    const failed: string[] = [];
    let after = '';
    for (;;) {
      const rows = (await db('storage_blobs').whereNot('key_id', current.id).andWhere('key', '>', after).orderBy('key').limit(500).select('key', 'key_id', 'wrapped_key', 'bind')) as BlobRow[];
      if (!rows.length) break;
      for (const r of rows) {
        after = r.key;
        let dek: Buffer;
        try {
          dek = unwrapKey(this.keys.get(r.key_id), r.key_id, r.wrapped_key, r.bind);
        } catch {
          failed.push(r.key);
          continue;
        }
        rewrapped += await db('storage_blobs').where({ key: r.key, key_id: r.key_id }).update({ key_id: current.id, wrapped_key: wrapKey(current.key, current.id, dek, r.bind) });
      }
    }
    const left = (await db('storage_blobs').whereNot('key_id', current.id).count({ n: '*' }).first()) as { n: number | string };
    return { rewrapped, failed, remaining: Number(left.n) };
  }

  /** Key ids still referenced by some row. */
  async keyIdsInUse(db: Db): Promise<string[]> {
    return (await db('storage_blobs').distinct('key_id').pluck('key_id')) as string[];
  }

  /**
   * Sweep every `everyMs` (boot starts this after plugins bootstrap; the first run is at once).
   * With the job runner, one process sweeps per period however many share the storage.
   */
  start(db: Db, everyMs = 60 * 60_000, jobs?: Pick<JobRunner, 'runOnce'>): void {
    if (this.timer) return;
    const run = () => {
      this.running ??= (jobs ? jobs.runOnce('core.storage-sweep', everyMs - 60_000, () => this.sweep(db)) : this.sweep(db))
        .catch((err) => this.logger.error({ err }, 'storage sweep failed'))
        .finally(() => (this.running = undefined));
    };
    run();
    this.timer = setInterval(run, everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/**
 * The S3 client is large (hundreds of milliseconds to import); load it on first use so a
 * local-disk installation never pays for it at start-up.
 */
function lazyS3(cfg: ConstructorParameters<typeof import('./s3.ts').S3BlobStore>[0]): BlobStore {
  let real: Promise<BlobStore> | undefined;
  const load = () => (real ??= import('./s3.ts').then((m) => new m.S3BlobStore(cfg)));
  return {
    kind: 's3',
    put: async (source) => (await load()).put(source),
    get: async (key, range) => (await load()).get(key, range),
    size: async (key) => (await load()).size(key),
    delete: async (key) => (await load()).delete(key),
    cleanPartial: async (olderThan) => (await load()).cleanPartial(olderThan),
    async *list() {
      yield* (await load()).list();
    },
  };
}
