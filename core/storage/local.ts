// Local-disk blob store. A write goes to `<root>/tmp/<random>.part` (flushed to disk in the
// background as it grows), is fsynced, renamed to
// `<root>/<k[0..2]>/<k>` and the folder is fsynced (SECURITY.md control 48), so a crash leaves
// either no blob or a whole one; leftovers in tmp/ are removed by cleanPartial. Paths are built
// from the random key only, and the resolved path must stay under the root (control 36).
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AtriumError } from '../errors.ts';
import { KEY_PATTERN, type BlobInfo, type BlobStore } from './adapter.ts';

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
    const key = randomBytes(16).toString('hex');
    const tmpDir = join(this.root, 'tmp');
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    const temp = join(tmpDir, `${randomBytes(8).toString('hex')}.part`);
    // The file is opened here and stays open after the stream finishes (autoClose: false): the
    // final fsync goes through it, and it is closed here on every path.
    let fh: FileHandle;
    try {
      fh = await open(temp, 'wx', 0o600);
    } catch (err) {
      source.destroy(err as Error);
      throw err;
    }
    const out = fh.createWriteStream({ highWaterMark: 1024 * 1024, autoClose: false });
    // Write-back while the rest streams: every EARLY_SYNC bytes, fdatasync in the background (one
    // at a time), so the final fsync below waits for the tail of the file, not all of it. The
    // durability guarantee is unchanged: the blob is renamed into place only after that fsync.
    let early: Promise<void> | undefined;
    let syncedTo = 0;
    const onData = () => {
      if (early || out.bytesWritten - syncedTo < EARLY_SYNC) return;
      syncedTo = out.bytesWritten;
      early = fh.datasync().then(
        () => void (early = undefined),
        () => void (early = undefined),
      );
    };
    source.on('data', onData);
    try {
      try {
        await pipeline(source, out);
        source.off('data', onData);
        await early;
        await fh.sync();
      } finally {
        source.off('data', onData);
        out.destroy(); // releases its hold on the handle (autoClose: false: the fd stays open)
        await early;
        await fh.close();
      }
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
    const final = this.pathOf(key);
    const dir = join(this.root, key.slice(0, 2));
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await rename(temp, final);
      const d = await open(dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
    return key;
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
