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
import { PassThrough, Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { AtriumConfig } from '../config/schema.ts';
import type { Clock } from '../clock.ts';
import { afterCommit, type Db, type Trx } from '../db/index.ts';
import { AtriumError } from '../errors.ts';
import type { BlobReader, BlobStore, BlobWriter } from './adapter.ts';
import { ALG, HEADER, blobSize, cipherRange, integrity, newHeader, readHeader, unwrapKey, wrapKey } from './crypto.ts';
import { Opener, Sealer, copyIntoShared, warmCryptoThreads, type Lease } from './pipeline.ts';
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
  size: number;
  sha256: string;
  /** The plaintext as a stream (each chunk a fresh buffer): for any consumer. */
  readonly stream: Readable;
  /**
   * Write the plaintext to `dest` (a response, a file) straight from the decryption buffers, without
   * copying them on this thread; resolves when every byte was handed over (dest is not ended), and
   * rejects on an integrity failure or when dest goes away. Use either this or `stream`.
   */
  writeTo(dest: Writable): Promise<void>;
  /** Give up without reading (or stop reading). */
  close(): void;
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

/** A writer over put(Readable) for stores without create(): each buffer is copied (the caller reuses it). */
function writerFromPut(store: BlobStore): BlobWriter {
  const pass = new PassThrough({ highWaterMark: 1024 * 1024 });
  const putting = store.put(pass);
  putting.catch(() => undefined);
  return {
    async write(buf) {
      if (!pass.write(Buffer.from(buf))) await new Promise<void>((ok, fail) => {
        pass.once('drain', ok);
        putting.catch(fail);
      });
    },
    async commit() {
      pass.end();
      return putting;
    },
    async abort() {
      pass.destroy(new Error('aborted'));
      await putting.catch(() => undefined);
    },
  };
}

/** Positional reads over get(Readable) for stores without reader(): one ranged stream, reopened on a seek. */
function readerFromGet(store: BlobStore, key: string): BlobReader {
  let stream: AsyncIterator<Buffer> | undefined;
  let src: Readable | undefined;
  let at = -1;
  let pending: Buffer = Buffer.alloc(0);
  let ended = false;
  return {
    async read(into, length, position) {
      if (position !== at) {
        src?.destroy();
        src = await store.get(key, { start: position });
        stream = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        at = position;
        pending = Buffer.alloc(0);
        ended = false;
      }
      while (pending.length === 0 && !ended) {
        const r = await stream!.next();
        if (r.done) ended = true;
        else pending = r.value;
      }
      const n = Math.min(length, pending.length);
      copyIntoShared(pending.subarray(0, n), into, 0); // `into` is a slab of shared memory
      pending = pending.subarray(n);
      at += n;
      return n;
    },
    async close() {
      src?.destroy();
    },
  };
}

/**
 * Hand each chunk of `source` to `write`, one at a time, as it arrives. (Not `for await`: a
 * Readable's async iterator returns everything buffered as one concatenated copy.)
 */
function feed(source: Readable, write: (chunk: Buffer) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    if (source.errored) return reject(source.errored);
    if (source.destroyed && !source.readableEnded) return reject(new Error('the source closed before its end'));
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      source.off('data', onData);
      reject(err);
    };
    // 'end' can come while the last write is still under way (pause() does not hold it back).
    let last: Promise<void> = Promise.resolve();
    const onData = (chunk: Buffer) => {
      const p = write(chunk);
      last = p;
      source.pause();
      p.then(() => {
        if (!failed) source.resume();
      }, fail);
    };
    source.on('data', onData);
    source.once('error', fail);
    let ended = false;
    source.once('end', () => {
      ended = true;
      last.then(() => {
        if (!failed) resolve();
      }, fail);
    });
    source.once('close', () => {
      if (!ended) fail(source.errored ?? new Error('the source closed before its end'));
    });
    if (source.readableEnded) {
      ended = true;
      resolve();
    }
    source.resume();
  });
}

/** Size of the copies `OpenedBlob.stream` hands out. */
const COPY = 64 * 1024;

/** Wait until `dest` drains, or resolve false when it closes first. */
function drained(dest: Writable): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      dest.off('drain', onDrain);
      dest.off('close', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    dest.on('drain', onDrain);
    dest.on('close', onClose);
  });
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
    const { header, prefix } = newHeader();
    const limit = opts.limit ?? Infinity;
    // The source may fail (a limit hit by the parser) before feed() listens: never unhandled.
    source.on('error', () => undefined);
    const sealer = new Sealer({
      key: dek,
      prefix,
      bind: Buffer.from(opts.bind),
      header,
      limit,
      tooLarge: () => new AtriumError('ATR_TOO_LARGE', `more than ${limit} bytes`, { status: 413 }),
      integrity,
    });
    let writer: BlobWriter | undefined;
    let writing: Promise<void> | undefined;
    try {
      writer = this.store.create ? await this.store.create() : writerFromPut(this.store);
      const w = writer;
      // Frames go to the store as they are sealed; a store failure stops the source too.
      writing = (async () => {
        for await (const lease of sealer.output()) {
          await w.write(lease.buf);
          lease.release();
        }
      })();
      writing.catch((err: Error) => sealer.fail(err));
      await feed(source, (chunk) => sealer.write(chunk));
      await sealer.end();
      await writing;
      const key = await writer.commit();
      return { key, size: sealer.size, sha256: sealer.sha256!, keyId: master.id, wrappedKey: wrapKey(master.key, master.id, dek, opts.bind), bind: opts.bind };
    } catch (err) {
      sealer.fail(err as Error);
      source.destroy();
      await writing?.catch(() => undefined);
      await writer?.abort();
      throw err;
    } finally {
      sealer.close();
      dek.fill(0);
    }
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
    const reader = this.store.reader ? await this.store.reader(key) : readerFromGet(this.store, key);
    let opener: Opener;
    try {
      const head = Buffer.alloc(HEADER);
      const got = await reader.read(head, HEADER, 0);
      if (got < HEADER) throw integrity('the blob is shorter than its header');
      const prefix = readHeader(head);
      const o = { size, start: opts.start, end: opts.end };
      const r = cipherRange(o);
      const start = opts.start ?? 0;
      const whole = start === 0 && (opts.end === undefined || opts.end >= size - 1);
      opener = new Opener(
        {
          key: dek,
          prefix,
          bind: Buffer.from(opts.bind),
          size,
          ...r,
          skip: start - r.first * (64 * 1024),
          length: size === 0 ? 0 : (opts.end ?? size - 1) - start + 1,
          sha256: whole ? row.sha256 : undefined,
          whole,
          integrity,
        },
        reader,
      );
    } catch (err) {
      await reader.close().catch(() => undefined);
      throw err;
    }
    let used = false;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      opener.close();
      void reader.close().catch(() => undefined);
    };
    const use = (): AsyncGenerator<Lease> => {
      if (used) throw new Error('an opened blob can be read once');
      used = true;
      return opener.leases();
    };
    let stream: Readable | undefined;
    return {
      size,
      sha256: row.sha256,
      get stream() {
        if (stream) return stream;
        const it = use();
        stream = new Readable({
          highWaterMark: 1024 * 1024,
          read() {
            it.next().then(
              (r) => {
                if (r.done) {
                  closed = true;
                  opener.finish();
                  void reader.close().catch(() => undefined);
                  this.push(null);
                  return;
                }
                // Copies of 64 KiB (malloc reuses those; 1 MiB ones are fresh mappings each time,
                // resident until the GC gets to them).
                const { buf } = r.value;
                for (let at = 0; at < buf.length; at += COPY) {
                  const copy = Buffer.allocUnsafe(Math.min(COPY, buf.length - at));
                  buf.copy(copy, 0, at, at + copy.length);
                  this.push(copy);
                }
                r.value.release();
              },
              (err: Error) => this.destroy(err),
            );
          },
          destroy(err, cb) {
            close();
            cb(err);
          },
        });
        return stream;
      },
      async writeTo(dest: Writable): Promise<void> {
        let inFlight = 0;
        let settle: (() => void) | undefined;
        try {
          for await (const lease of use()) {
            if (dest.destroyed || !dest.writable) throw new Error('the destination closed');
            inFlight++;
            const ok = dest.write(lease.buf, (err) => {
              inFlight--;
              // A failed write may still hold the bytes: the memory is then never reused.
              if (!err) lease.release();
              settle?.();
            });
            if (!ok && !(await drained(dest))) throw new Error('the destination closed');
          }
          // Every write handed over: the buffers may serve the next blob.
          while (inFlight > 0) {
            if (dest.destroyed) throw new Error('the destination closed');
            await new Promise<void>((r) => (settle = r));
          }
          closed = true;
          opener.finish();
          void reader.close().catch(() => undefined);
        } catch (err) {
          close();
          throw err;
        }
      },
      close,
    };
  }

  /** Read and authenticate a whole blob; null when it is intact, else the reason. */
  async verify(db: Db | Trx, key: string, bind: string): Promise<string | null> {
    try {
      const row = await this.row(db, key);
      const stored = await this.store.size(key);
      if (stored === null) return 'the blob is missing';
      if (stored !== blobSize(Number(row.size))) return `the blob is ${stored} bytes, expected ${blobSize(Number(row.size))}`;
      const opened = await this.open(db, key, { bind });
      await opened.writeTo(new Writable({ highWaterMark: 1024 * 1024, write: (_c, _e, cb) => cb() }));
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
    // The crypto threads, a moment after start-up (off its path), ready for the first large blob.
    setTimeout(() => this.warm(), 1000).unref();
  }

  /** Start the crypto threads (used for large blobs) now rather than on the first one. */
  warm(): void {
    warmCryptoThreads();
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
