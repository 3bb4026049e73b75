// Downloads (SECURITY.md control 37): decrypted while streaming, with Range support, always as an
// attachment with a safe filename* (the kernel's contentDisposition), and headers that stop a
// browser from running or sniffing the content. Zips (control 38's outbound half) are streamed
// with archiver: the first bytes leave before the archive is complete, each entry is decrypted
// only when archiver reaches it, and entry names are made safe by the kernel's zipEntryName.
import type { Request, Response } from 'express';
import { Readable } from 'node:stream';
import type { ZipArchive as ZipArchiveType } from 'archiver';
import { contentDisposition, zipEntryName, type Db, type OpenedBlob, type StorageService, type Trx } from '../../core/index.ts';
import type { FileRow, VersionRow } from './repo.ts';
import { COMPRESSED } from '../../core/index.ts';

/** Headers for any response carrying file bytes. */
export function fileHeaders(res: Response, name: string, type: string, kind: 'attachment' | 'inline' = 'attachment'): void {
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Disposition', contentDisposition(name, kind));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', 'sandbox; default-src \'none\'');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
}

/** One `bytes=` range, or null for none/several (served whole), or 'bad' (416). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'bad' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return header.includes(',') ? null : 'bad';
  const [, a, b] = m;
  if (a === '' && b === '') return 'bad';
  let start: number;
  let end: number;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'bad';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start > end || start >= size) return 'bad';
  return { start, end };
}

export const bindFor = (fileId: string, versionId: string) => `files:${fileId}:${versionId}`;

/** Stream one version to the response, honouring Range. Errors mid-stream cut the connection. */
export async function sendVersion(req: Request, res: Response, storage: StorageService, db: Db | Trx, file: FileRow, version: VersionRow, kind: 'attachment' | 'inline' = 'attachment'): Promise<void> {
  const range = parseRange(req.get('range'), version.size);
  fileHeaders(res, file.name, version.content_type, kind);
  res.setHeader('Accept-Ranges', 'bytes');
  if (range === 'bad') {
    res.setHeader('Content-Range', `bytes */${version.size}`);
    res.status(416).end();
    return;
  }
  const opened = await storage.open(db, version.blob_key, { bind: bindFor(file.id, version.id), ...(range ?? {}) });
  if (range) {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${version.size}`);
    res.setHeader('Content-Length', String(range.end - range.start + 1));
  } else {
    res.status(200);
    res.setHeader('Content-Length', String(version.size));
  }
  sendOpened(req, res, opened, { file: file.id, version: version.id });
}

/**
 * Send an opened blob as the body (headers and status already set): nothing for HEAD, else straight
 * from the decryption buffers to the socket (no copy per chunk on this thread). A failure mid-way
 * (integrity) is logged and cuts the connection.
 */
export function sendOpened(req: Request, res: Response, opened: OpenedBlob, context: Record<string, string>): void {
  if (req.method === 'HEAD') {
    opened.close();
    res.end();
    return;
  }
  res.on('close', () => opened.close());
  opened.writeTo(res).then(
    () => res.end(),
    (err: Error) => {
      if (!res.destroyed) req.ctx.log.error({ err, ...context }, 'a stored file failed its integrity check mid-download');
      res.destroy(err);
    },
  );
}

let archiver: Promise<{ ZipArchive: typeof ZipArchiveType }> | undefined;

export function loadArchiver(): Promise<{ ZipArchive: typeof ZipArchiveType }> {
  archiver ??= (import('archiver') as Promise<{ ZipArchive: typeof ZipArchiveType }>).catch((err: unknown) => {
    archiver = undefined;
    throw err;
  });
  return archiver;
}

/** Import archiver in the background after `delayMs` (an unref'd timer: it never keeps a process alive). */
export function warmArchiver(delayMs = 2000): void {
  setTimeout(() => void loadArchiver().catch(() => undefined), delayMs).unref();
}

/** A stream that opens its source only when first read (archiver reads entries one at a time). */
class LazyReadable extends Readable {
  private src: Readable | undefined;
  private opening = false;

  constructor(private readonly open: () => Promise<Readable>) {
    super({ highWaterMark: 64 * 1024 });
  }

  override _read(): void {
    if (this.src) {
      this.src.resume();
      return;
    }
    if (this.opening) return;
    this.opening = true;
    this.open().then(
      (s) => {
        if (this.destroyed) return void s.destroy(); // the client left while the entry opened
        this.src = s;
        s.on('data', (c: Buffer) => {
          if (!this.push(c)) s.pause();
        });
        s.once('end', () => this.push(null));
        s.once('error', (err) => this.destroy(err));
      },
      (err) => this.destroy(err as Error),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.src?.destroy();
    cb(err);
  }
}

export interface ZipEntry {
  path: string[];
  file: FileRow;
  version: VersionRow;
}

/** Stream a zip of `entries`; entry names are unique and sanitised. */
export async function sendZip(req: Request, res: Response, storage: StorageService, db: Db, zipName: string, entries: ZipEntry[]): Promise<void> {
  const { ZipArchive } = await loadArchiver();
  fileHeaders(res, zipName, 'application/zip');
  res.status(200);
  const archive = new ZipArchive({ zlib: { level: 6 }, highWaterMark: 64 * 1024 });
  const used = new Set<string>();
  archive.on('warning', (err: Error) => req.ctx.log.warn({ err }, 'zip warning'));
  archive.on('error', (err: Error) => {
    req.ctx.log.error({ err }, 'zip failed mid-stream');
    res.destroy(err);
  });
  // Entry streams the archive has not finished (or reached) when the client goes away: abort()
  // does not destroy them, so each is destroyed here and its file handle closed at once.
  const sources: Readable[] = [];
  res.on('close', () => {
    if (res.writableFinished) return;
    archive.abort();
    for (const s of sources) s.destroy();
  });
  archive.pipe(res);
  for (const e of entries) {
    const segs = [...e.path, e.file.name].map(zipEntryName);
    let name = segs.join('/');
    for (let n = 2; used.has(name.toLowerCase()); n++) {
      const last = segs[segs.length - 1]!;
      const dot = last.lastIndexOf('.');
      name = [...segs.slice(0, -1), dot > 0 ? `${last.slice(0, dot)} (${n})${last.slice(dot)}` : `${last} (${n})`].join('/');
    }
    used.add(name.toLowerCase());
    const src = new LazyReadable(async () => (await storage.open(db, e.version.blob_key, { bind: bindFor(e.file.id, e.version.id) })).stream);
    sources.push(src);
    archive.append(src, { name, date: new Date(e.version.created_at), store: COMPRESSED.has(e.version.content_type) });
  }
  void archive.finalize();
}
