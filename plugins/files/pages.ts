// Documents read in place (issue 14): a PDF version's pages as JPEG images, for the pages where a
// document is decided (an approval request or link, a signing page, the send-for-signature form).
// Other plugins reach this through FilesApi.pages / pageImage and the `files.version` approvable;
// each serves the images from its own route, behind the same check as the document itself.
//
// Why server-side images, not pdf.js in the browser: under the kernel's strict CSP (nonces,
// 'strict-dynamic', no worker-src, fonts only from 'self') pdf.js in the browser would need its
// worker, blob: or data: fonts and wasm allowed, would send every reader the whole PDF and 1.5 MB
// of script, and would show nothing without JavaScript. An image is an <img>: it works without
// JavaScript, on any phone, and the untrusted PDF is parsed here, in the same kind of throwaway
// worker as previews (pages-worker.mjs: heap limit, empty environment, eval off, hard timeout).
//
// Rendered on demand and kept in memory, not stored: a GET never writes (SECURITY.md control 20;
// the isolation kit checks every GET leaves the database as it was), page images are derived
// data that a restart can make again in a second or two, and nothing of a document is left on
// disk or in a table that a version's purge would also have to find. Each process keeps at most
// `pagesCacheMiB` of images (least recently used documents go first).
//
// Bounded work: PDFs up to `previewMaxBytes` (25 MiB), the first `pagesShown` pages (30), each page
// at most PAGE_WIDTH x PAGE_MAX_HEIGHT pixels, one worker at a time per process with a hard
// timeout, at most MAX_WAITING renders queued behind it. Anything outside those bounds, and any
// PDF pdfjs cannot open, is a "can't be shown here; download it", never a 500.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { DocumentPage, DocumentPages, PageImage } from '../../core/index.ts';
import type { FilesSettings } from './settings.ts';

/** A page image's width in pixels (a page is scaled to it, aspect ratio kept)... */
export const PAGE_WIDTH = 1000;
/** ...unless that would make it taller than this; then it is scaled to this height instead. */
export const PAGE_MAX_HEIGHT = 1600;
/** JPEG quality of a page image. */
export const JPEG_QUALITY = 85;
/** A worker still running after this is terminated; the pages it had not drawn are not shown. */
export const PAGES_TIMEOUT_MS = 20_000;
/** The worker's V8 heap limit (old generation), as for previews. */
export const PAGES_HEAP_MB = 256;
/** Pages drawn by one worker after the one asked for (the next pages are usually asked next). */
const BATCH = 4;
/** Renders waiting for the worker; beyond this a request gets the fallback at once. */
const MAX_WAITING = 16;
/** A page image larger than this did not come from our renderer. */
const MAX_IMAGE_BYTES = 4 * 1024 * 1024;
/** The largest page PDF allows (14,400 points a side); anything larger is a broken dictionary. */
const MAX_POINTS = 14_400 * 64;

/** One version of a file, as this module needs it: how to read its bytes, and what identifies them. */
export interface PageSource {
  workspaceId: string;
  versionId: string;
  size: number;
  sha256: string;
  /** The decrypted, hash-checked bytes (FilesApi.readVersion). */
  read(): Promise<Uint8Array>;
}

/** What the worker sends (pages-worker.mjs). */
type WorkerMessage =
  | { kind: 'info'; numPages: number; pages: Array<{ width: number; height: number; view: number[]; rotate: number }> }
  | { kind: 'page'; n: number; jpeg: Uint8Array; width: number; height: number }
  | { kind: 'page-error'; n: number; reason: string }
  | { kind: 'done' }
  | { kind: 'error'; reason: string };

export interface WorkerJob {
  from: number;
  to: number;
  info: boolean;
  maxPages: number;
  timeoutMs?: number;
}

/** Run pages-worker.mjs over `pdf` (transferred: the caller's view is emptied), one message at a time to `onMessage`. */
export function runPagesWorker(pdf: Uint8Array, job: WorkerJob, onMessage: (m: WorkerMessage) => void): Promise<void> {
  const timeoutMs = job.timeoutMs ?? PAGES_TIMEOUT_MS;
  const own = pdf.byteOffset === 0 && pdf.byteLength === pdf.buffer.byteLength && pdf.buffer instanceof ArrayBuffer ? pdf.buffer : new Uint8Array(pdf).buffer;
  return new Promise<void>((resolve, reject) => {
    const worker = new Worker(new URL('./pages-worker.mjs', import.meta.url), {
      workerData: { data: own, width: PAGE_WIDTH, maxHeight: PAGE_MAX_HEIGHT, quality: JPEG_QUALITY, info: job.info, maxPages: job.maxPages, from: job.from, to: job.to },
      transferList: [own],
      // No TypeScript loader, no inherited flags, none of the server's environment (secrets).
      execArgv: [],
      env: {},
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: PAGES_HEAP_MB, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
    });
    // A render never keeps a stopping process alive; its timer neither.
    worker.unref();
    worker.stdout.resume();
    worker.stderr.resume();
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    timer.unref();
    worker.on('message', (m: WorkerMessage) => {
      if (settled) return;
      if (m.kind === 'error') return finish(new Error(String(m.reason).slice(0, 200)));
      try {
        onMessage(m);
      } catch (err) {
        return finish(err as Error);
      }
      if (m.kind === 'done') finish(null);
    });
    worker.on('error', (err: Error & { code?: string }) => finish(new Error(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `ran out of memory (${PAGES_HEAP_MB} MB)` : 'the renderer crashed')));
    worker.on('exit', (code) => finish(new Error(`the renderer stopped (exit code ${code})`)));
  });
}

/** The image's size in pixels for a page of `width` x `height` points (the worker's own formula). */
export function imageSize(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(PAGE_WIDTH / width, PAGE_MAX_HEIGHT / height);
  return { width: Math.max(1, Math.min(PAGE_WIDTH, Math.round(width * scale))), height: Math.max(1, Math.min(PAGE_MAX_HEIGHT, Math.round(height * scale))) };
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** The worker's page list, checked (trust nothing it says), as DocumentPages; throws when it is not sane. */
function pagesOf(m: Extract<WorkerMessage, { kind: 'info' }>, maxPages: number): DocumentPages {
  if (!Number.isInteger(m.numPages) || m.numPages < 1 || !Array.isArray(m.pages) || m.pages.length !== Math.min(m.numPages, maxPages)) throw new Error('the renderer returned an invalid page list');
  const pages: DocumentPage[] = m.pages.map((p, i) => {
    const ok = finite(p.width) && finite(p.height) && p.width > 0 && p.height > 0 && p.width <= MAX_POINTS && p.height <= MAX_POINTS && Array.isArray(p.view) && p.view.length === 4 && p.view.every(finite) && [0, 90, 180, 270].includes(p.rotate);
    if (!ok) throw new Error('the renderer returned an invalid page size');
    return { n: i + 1, width: p.width, height: p.height, view: p.view as [number, number, number, number], rotate: p.rotate, image: imageSize(p.width, p.height) };
  });
  return { ok: true, total: m.numPages, pages };
}

/** A deferred value: the promise, and how to settle it from outside. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** What the cache holds for one version. */
interface Entry {
  key: string;
  pages?: DocumentPages;
  describing?: Promise<DocumentPages>;
  images: Map<number, Buffer>;
  /** Pages that could not be drawn (their <img> shows its alt text). */
  failed: Set<number>;
  /** Pages a worker is drawing now, settled when the page arrives or the worker ends. */
  pending: Map<number, Promise<void>>;
  bytes: number;
}

export interface PageImagesDeps {
  settings: Pick<FilesSettings, 'previewMaxBytes' | 'pagesShown' | 'pagesCacheMiB'>;
  logger: Pick<Logger, 'warn'>;
  /** The worker runner (tests substitute a slow or failing one). */
  run?: typeof runPagesWorker;
  /** A worker's hard timeout (PAGES_TIMEOUT_MS). */
  timeoutMs?: number;
}

class Busy extends Error {}

/** Page images of PDF versions, rendered on demand one worker at a time, kept in memory (LRU). */
export class PageImages {
  private readonly cache = new Map<string, Entry>();
  private cached = 0;
  private queue: Promise<void> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly deps: PageImagesDeps) {}

  /** The document's pages (the first `pagesShown`), or why they cannot be shown. Never throws for a bad PDF. */
  async describe(src: PageSource): Promise<DocumentPages> {
    const { settings } = this.deps;
    if (settings.pagesShown === 0) return { ok: false, reason: 'reading documents in place is turned off' };
    if (src.size > settings.previewMaxBytes) return { ok: false, reason: `larger than ${Math.floor(settings.previewMaxBytes / 1024 / 1024)} MiB` };
    const entry = this.entry(src);
    if (entry.pages) return entry.pages;
    entry.describing ??= this.startDescribe(src, entry).finally(() => (entry.describing = undefined));
    return entry.describing;
  }

  /** Page `n`'s image, or undefined: no such page, or it cannot be drawn (the caller answers 404). */
  async image(src: PageSource, n: number): Promise<PageImage | undefined> {
    const pages = await this.describe(src);
    if (!pages.ok || !Number.isInteger(n) || n < 1 || n > pages.pages.length) return undefined;
    const entry = this.entry(src);
    for (let attempt = 0; attempt < 2; attempt++) {
      const ready = entry.images.get(n);
      if (ready) return { bytes: ready, contentType: 'image/jpeg' };
      if (entry.failed.has(n)) return undefined;
      const pending = entry.pending.get(n);
      if (pending) {
        await pending;
        continue;
      }
      // Draw from n on, up to BATCH pages, stopping at a page already drawn or being drawn.
      let to = n;
      while (to + 1 <= pages.pages.length && to + 1 < n + BATCH && !entry.images.has(to + 1) && !entry.pending.has(to + 1) && !entry.failed.has(to + 1)) to++;
      try {
        await this.render(src, entry, { from: n, to, info: false, maxPages: pages.pages.length });
      } catch {
        // Logged by render(); the pages it did not draw are marked failed (or, when the queue was
        // full, nothing was started and the next view tries again).
      }
    }
    const done = entry.images.get(n);
    return done ? { bytes: done, contentType: 'image/jpeg' } : undefined;
  }

  private key = (src: PageSource) => `${src.workspaceId}:${src.versionId}:${src.sha256}`;

  /** The version's entry, most recently used last (Map order is the LRU order). */
  private entry(src: PageSource): Entry {
    const key = this.key(src);
    let e = this.cache.get(key);
    if (e) this.cache.delete(key);
    else e = { key, images: new Map(), failed: new Set(), pending: new Map(), bytes: 0 };
    this.cache.set(key, e);
    return e;
  }

  private async startDescribe(src: PageSource, entry: Entry): Promise<DocumentPages> {
    const first = Math.min(BATCH, this.deps.settings.pagesShown);
    let described: DocumentPages | undefined;
    const got = deferred();
    // The first worker says what the document is, then goes on drawing its first pages.
    const job = this.render(src, entry, { from: 1, to: first, info: true, maxPages: this.deps.settings.pagesShown }, (pages) => {
      described = pages;
      got.resolve();
    });
    const outcome = await Promise.race([got.promise.then(() => 'info' as const), job.then(() => 'done' as const, (err: Error) => err)]);
    if (outcome instanceof Busy) return { ok: false, reason: 'busy' }; // not kept: the next view tries again
    if (outcome instanceof Error) described = { ok: false, reason: outcome.message };
    // Keep the page list (or why not) with the images: a broken PDF is not parsed again per view.
    entry.pages = described ?? { ok: false, reason: 'the renderer said nothing' };
    if (!entry.pages.ok) for (const p of entry.pending.keys()) entry.failed.add(p);
    job.catch(() => undefined);
    return entry.pages;
  }

  /**
   * Queue one worker over pages from..to of `src` (and its page list when `info`). Resolves when
   * the worker is done; each page's image lands in `entry` as it arrives.
   */
  private render(src: PageSource, entry: Entry, job: WorkerJob, onInfo?: (pages: DocumentPages) => void): Promise<void> {
    if (this.waiting >= MAX_WAITING) return Promise.reject(new Busy('too many documents are being prepared'));
    const waits = new Map<number, () => void>();
    for (let n = job.from; n <= job.to; n++) {
      if (entry.pending.has(n)) continue;
      const d = deferred();
      waits.set(n, d.resolve);
      entry.pending.set(n, d.promise);
    }
    const settle = (n: number) => {
      waits.get(n)?.();
      waits.delete(n);
      entry.pending.delete(n);
    };
    this.waiting++;
    const run = this.queue.then(async () => {
      this.waiting--;
      const started = Date.now();
      try {
        await (this.deps.run ?? runPagesWorker)(await src.read(), { ...job, timeoutMs: this.deps.timeoutMs ?? job.timeoutMs }, (m) => {
          if (m.kind === 'info') {
            const pages = pagesOf(m, job.maxPages);
            onInfo?.(pages);
          } else if (m.kind === 'page') {
            if (!waits.has(m.n)) throw new Error('the renderer returned a page it was not asked for');
            const bytes = Buffer.from(m.jpeg.buffer, m.jpeg.byteOffset, m.jpeg.byteLength);
            const sane = m.width >= 1 && m.width <= PAGE_WIDTH && m.height >= 1 && m.height <= PAGE_MAX_HEIGHT && bytes.length <= MAX_IMAGE_BYTES && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
            if (sane) this.keep(entry, m.n, bytes);
            else entry.failed.add(m.n);
            settle(m.n);
          } else if (m.kind === 'page-error') {
            if (waits.has(m.n)) entry.failed.add(m.n);
            settle(m.n);
          }
        });
      } catch (err) {
        // The stored file could not be read, or the PDF opened, or the worker was cut short.
        this.deps.logger.warn({ versionId: src.versionId, reason: (err as Error).message, ms: Date.now() - started }, 'a document could not be shown in place');
        throw err;
      }
    });
    // The next job waits for this one whatever happens to it.
    this.queue = run.catch(() => undefined);
    return run.finally(() => {
      // Pages the worker never reached (a timeout, a crash): shown as their alt text, not retried.
      for (const n of [...waits.keys()]) {
        entry.failed.add(n);
        settle(n);
      }
    });
  }

  /** Keep a page image, then drop least recently used documents until the cache fits again. */
  private keep(entry: Entry, n: number, bytes: Buffer): void {
    entry.images.set(n, bytes);
    // A document dropped from the cache while its worker ran: the page still reaches whoever waits.
    if (this.cache.get(entry.key) !== entry) return;
    entry.bytes += bytes.length;
    this.cached += bytes.length;
    const limit = this.deps.settings.pagesCacheMiB * 1024 * 1024;
    for (const [key, e] of this.cache) {
      if (this.cached <= limit) break;
      if (e === entry) continue;
      this.cache.delete(key);
      this.cached -= e.bytes;
    }
  }
}
