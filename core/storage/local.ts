// Local-disk blob store. A write goes to `<root>/tmp/<random>.part` (flushed to disk in the
// background as it grows; create() writes from the caller's buffers), is fsynced, renamed to
// `<root>/<k[0..2]>/<k>` and the folder is fsynced (SECURITY.md control 48), so a crash leaves
// either no blob or a whole one; leftovers in tmp/ are removed by cleanPartial. Paths are built
// from the random key only, and the resolved path must stay under the root (control 36).
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { fsyncPath } from '../fsync.ts';
import type { Readable } from 'node:stream';
import { AtriumError } from '../errors.ts';
import { KEY_PATTERN, type BlobInfo, type BlobReader, type BlobStore, type BlobWriter } from './adapter.ts';

/** Bytes written between background fdatasync calls during a put. */
const EARLY_SYNC = 32 * 1024 * 1024;

export class LocalBlobStore implements BlobStore {
  readonly kind = 'local' as const;
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The blob's path; refuses anything that is not a key or would leave the root. */
  pathOf(key: string): string {
    if (!KEY_PATTERN.test(key)) throw new AtriumError('ATR_NOT_FOUND', 'not a blob key', { status: 404 });
    const p = resolve(this.root, key.slice(0, 2), key);
    if (!p.startsWith(this.root + sep)) throw new AtriumError('ATR_NOT_FOUND', 'outside the store', { status: 404 });
    return p;
  }

  async put(source: Readable): Promise<string> {
    let w: BlobWriter;
    try {
      w = await this.create();
    } catch (err) {
      source.destroy(err as Error);
      throw err;
    }
    try {
      for await (const chunk of source) await w.write(chunk as Buffer);
      return await w.commit();
    } catch (err) {
      await w.abort();
      throw err;
    }
  }

  async create(): Promise<BlobWriter> {
    const key = randomBytes(16).toString('hex');
    const tmpDir = join(this.root, 'tmp');
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    const temp = join(tmpDir, `${randomBytes(8).toString('hex')}.part`);
    const fh = await open(temp, 'wx', 0o600);
    // Write-back while the rest streams: every EARLY_SYNC bytes, fdatasync in the background (one
    // at a time), so the final fsync waits for the tail of the file, not all of it. Durability is
    // unchanged: the blob is renamed into place only after that fsync.
    let early: Promise<void> | undefined;
    let written = 0;
    let syncedTo = 0;
    let isOpen = true;
    const close = async () => {
      if (!isOpen) return;
      isOpen = false;
      await early;
      await fh.close();
    };
    return {
      async write(buf: Buffer): Promise<void> {
        for (let at = 0; at < buf.length; ) {
          const { bytesWritten } = await fh.write(buf, at, buf.length - at, null);
          at += bytesWritten;
        }
        written += buf.length;
        if (!early && written - syncedTo >= EARLY_SYNC) {
          syncedTo = written;
          early = fh.datasync().then(
            () => void (early = undefined),
            () => void (early = undefined),
          );
        }
      },
      commit: async (): Promise<string> => {
        try {
          await early;
          await fh.sync();
          await close();
          const dir = join(this.root, key.slice(0, 2));
          await mkdir(dir, { recursive: true, mode: 0o700 });
          await rename(temp, this.pathOf(key));
          await fsyncPath(dir);
          return key;
        } catch (err) {
          await close().catch(() => {});
          await unlink(temp).catch(() => {});
          throw err;
        }
      },
      async abort(): Promise<void> {
        await close().catch(() => {});
        await unlink(temp).catch(() => {});
      },
    };
  }

  async reader(key: string): Promise<BlobReader> {
    const fh = await open(this.pathOf(key), 'r');
    return {
      read: async (into, length, position) => (await fh.read(into, 0, length, position)).bytesRead,
      close: () => fh.close(),
    };
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const p = this.pathOf(key);
    const fh = await open(p, 'r');
    return fh.createReadStream({ ...(range ? { start: range.start, ...(range.end === undefined ? {} : { end: range.end }) } : {}), highWaterMark: 1024 * 1024 });
  }

  async size(key: string): Promise<number | null> {
    const st = await stat(this.pathOf(key)).catch(() => null);
    return st ? st.size : null;
  }

  async delete(key: string): Promise<void> {
    await unlink(this.pathOf(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async *list(): AsyncIterable<BlobInfo> {
    const top = await readdir(this.root).catch(() => [] as string[]);
    for (const d of top) {
      if (!/^[0-9a-f]{2}$/.test(d)) continue;
      for (const name of await readdir(join(this.root, d)).catch(() => [] as string[])) {
        if (!KEY_PATTERN.test(name) || name.slice(0, 2) !== d) continue;
        const st = await stat(join(this.root, d, name)).catch(() => null);
        if (st) yield { key: name, modifiedAt: st.mtimeMs };
      }
    }
  }

  async cleanPartial(olderThan: number): Promise<number> {
    const tmpDir = join(this.root, 'tmp');
    let n = 0;
    for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
      const st = await stat(join(tmpDir, name)).catch(() => null);
      if (st && st.mtimeMs <= olderThan) {
        await unlink(join(tmpDir, name)).catch(() => {});
        n++;
      }
    }
    return n;
  }
}
