// First-page previews of PDF versions (issue 5, point 10). After a version is committed (the
// `files.version.created` and `files.version.restored` events, delivered after COMMIT), a PDF of at
// most `previewMaxBytes` is decrypted here and handed to a worker thread (preview-worker.mjs) that
// renders page 1 to a PNG about 480 px wide with pdfjs. The PNG is stored like any other blob:
// encrypted by the kernel's storage, bound to `files-preview:<file>:<version>`, with a
// `files_previews` row and an audit event in one transaction. A render that fails, times out or
// runs out of memory records `failed`; nothing here can fail an upload or stop the process.
//
// pdfjs is never imported by this module, only by the worker, so start-up does not pay for it.
// One render runs at a time per process (a queue): each gets a fresh worker with a heap limit and
// a hard timeout, and the worker is terminated when it is done, whatever it did.
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { newId, transaction, type Db, type StorageService, type StoredBlob, type Trx } from '../../core/index.ts';
import { bindFor } from './download.ts';
import type { FilesDeps } from './service.ts';
import type { FilesSettings } from './settings.ts';

/** The PNG's width in pixels (a page is scaled to it, aspect ratio kept)... */
export const PREVIEW_WIDTH = 480;
/** ...unless that would make it taller than this; then it is scaled to this height instead. */
export const PREVIEW_MAX_HEIGHT = 720;
/** A render still running after this is terminated and recorded as failed. */
export const RENDER_TIMEOUT_MS = 15_000;
/** The worker's V8 heap limit (old generation). pdfjs parses a 25 MiB PDF well inside it. */
export const RENDER_HEAP_MB = 256;
/** A 480 x 720 PNG is tens of kilobytes; anything this large did not come from our renderer. */
const MAX_PNG_BYTES = 4 * 1024 * 1024;
/** Renders waiting in one process; beyond this a version simply gets no preview (logged). */
const MAX_QUEUE = 10_000;

export const PDF = 'application/pdf';
export type PreviewStatus = 'ready' | 'failed' | 'skipped';

/** What the preview blob of a version is bound to (its authenticated owner context). */
export const previewBind = (fileId: string, versionId: string) => `files-preview:${fileId}:${versionId}`;

/** A render that did not produce a preview; `reason` is short and safe to store and show. */
export class RenderFailure extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** The render was cancelled because the process is stopping: nothing is recorded. */
class RenderCancelled extends Error {}

export interface RenderOptions {
  timeoutMs?: number;
  heapMb?: number;
  signal?: AbortSignal;
}

export interface RenderedPage {
  png: Buffer;
  width: number;
  height: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Render page 1 of `pdf` in a new worker thread. `pdf` is transferred to the worker (the caller's
 * view of it is emptied). Rejects with RenderFailure for a PDF it cannot render, a timeout or a
 * worker that ran out of memory or died.
 */
export function renderFirstPage(pdf: Uint8Array, opts: RenderOptions = {}): Promise<RenderedPage> {
  const timeoutMs = opts.timeoutMs ?? RENDER_TIMEOUT_MS;
  // A buffer of its own, so transferring it cannot detach memory shared with anything else
  // (Buffer.concat and small Buffers come from Node's shared pool).
  const own = pdf.byteOffset === 0 && pdf.byteLength === pdf.buffer.byteLength && pdf.buffer instanceof ArrayBuffer ? pdf.buffer : new Uint8Array(pdf).buffer;
  return new Promise<RenderedPage>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new RenderCancelled('stopping'));
    const worker = new Worker(new URL('./preview-worker.mjs', import.meta.url), {
      workerData: { data: own, width: PREVIEW_WIDTH, maxHeight: PREVIEW_MAX_HEIGHT },
      transferList: [own],
      // No TypeScript loader, no inherited flags, none of the server's environment (secrets).
      execArgv: [],
      env: {},
      // pdfjs's console output for a broken file is noise here: the reason is in the row.
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: opts.heapMb ?? RENDER_HEAP_MB, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
    });
    worker.stdout.resume();
    worker.stderr.resume();
    let settled = false;
    const finish = (err: Error | null, page?: RenderedPage) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      // Whatever happened, the worker and everything pdfjs allocated in it go away now.
      void worker.terminate();
      if (err) reject(err);
      else resolve(page!);
    };
    const onAbort = () => finish(new RenderCancelled('stopping'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => finish(new RenderFailure(`timed out after ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}`)), timeoutMs);
    worker.on('message', (m: { ok: true; png: Uint8Array; width: number; height: number } | { ok: false; reason: string }) => {
      if (!m.ok) return finish(new RenderFailure(String(m.reason).slice(0, 200)));
      const png = Buffer.from(m.png.buffer, m.png.byteOffset, m.png.byteLength);
      // Trust nothing the worker says: a PNG of the size we asked for, or a failure.
      const sane = Number.isInteger(m.width) && Number.isInteger(m.height) && m.width >= 1 && m.width <= PREVIEW_WIDTH && m.height >= 1 && m.height <= PREVIEW_MAX_HEIGHT;
      if (!sane || png.length > MAX_PNG_BYTES || !png.subarray(0, 8).equals(PNG_SIGNATURE)) return finish(new RenderFailure('the renderer returned an invalid image'));
      finish(null, { png, width: m.width, height: m.height });
    });
    worker.on('error', (err: Error & { code?: string }) => finish(new RenderFailure(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `ran out of memory (${opts.heapMb ?? RENDER_HEAP_MB} MB)` : 'the renderer crashed')));
    worker.on('exit', (code) => finish(new RenderFailure(`the renderer stopped (exit code ${code})`)));
  });
}

/** A committed version to consider for a preview (the event's payload). */
export interface PreviewJob {
  workspaceId: string;
  fileId: string;
  versionId: string;
}

export type PreviewDeps = Pick<FilesDeps, 'db' | 'storage' | 'audit' | 'logger'> & { settings: FilesSettings; now: () => number; render?: typeof renderFirstPage };

/** Renders queued versions one at a time, off the request path. Started by the plugin's bootstrap. */
export class Previewer {
  private queue: PreviewJob[] = [];
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(private readonly deps: PreviewDeps) {}

  /** Queue a committed version. Returns at once: an event subscriber must not hold up the upload. */
  enqueue(job: PreviewJob): void {
    if (this.stopped || this.deps.settings.previewMaxBytes === 0) return;
    if (this.queue.length >= MAX_QUEUE) {
      this.deps.logger.warn({ versionId: job.versionId }, 'preview queue full; this version gets no preview');
      return;
    }
    this.queue.push({ workspaceId: job.workspaceId, fileId: job.fileId, versionId: job.versionId });
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  /**
   * Queue the current PDF versions that have no outcome yet: those committed by a process that
   * stopped before rendering them (a restart, a crash, a render cut short by shutdown). Run hourly
   * by the plugin through the job runner (one process per hour). Firm-wide, so every row names its
   * own workspace. Returns how many were queued.
   */
  async catchUp(limit = 200): Promise<number> {
    if (this.stopped || this.deps.settings.previewMaxBytes === 0) return 0;
    const rows = (await this.deps
      .db('files_files as f')
      .join('files_versions as v', function () {
        this.on('v.id', '=', 'f.current_version_id').andOn('v.workspace_id', '=', 'f.workspace_id');
      })
      .leftJoin('files_previews as p', function () {
        this.on('p.version_id', '=', 'v.id').andOn('p.workspace_id', '=', 'v.workspace_id');
      })
      .whereNull('f.deleted_at')
      .whereNull('p.id')
      .where('v.content_type', PDF)
      .orderBy('v.created_at', 'desc')
      .limit(limit)
      .select('f.workspace_id', 'f.id as file_id', 'v.id as version_id')) as Array<{ workspace_id: string; file_id: string; version_id: string }>;
    for (const r of rows) this.enqueue({ workspaceId: String(r.workspace_id), fileId: String(r.file_id), versionId: String(r.version_id) });
    return rows.length;
  }

  /** Drop what is queued, cancel the render in progress (nothing is recorded for it), and wait. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue = [];
    this.abort.abort();
    await this.running;
  }

  private async drain(): Promise<void> {
    for (let job = this.queue.shift(); job && !this.stopped; job = this.queue.shift()) {
      try {
        await this.preview(job);
      } catch (err) {
        if (!(err instanceof RenderCancelled)) this.deps.logger.error({ err, versionId: job.versionId }, 'preview failed');
      }
    }
  }

  /** Render, or record why not, for one version. Idempotent: a version with a row is left alone. */
  private async preview(job: PreviewJob): Promise<void> {
    const { db, storage, settings } = this.deps;
    const v = (await db('files_versions').where({ workspace_id: job.workspaceId, file_id: job.fileId, id: job.versionId }).first('blob_key', 'size', 'content_type')) as { blob_key: string; size: number | string; content_type: string } | undefined;
    // Gone already (purged), or not a PDF: no preview and no row.
    if (!v || v.content_type !== PDF) return;
    if (await db('files_previews').where({ workspace_id: job.workspaceId, version_id: job.versionId }).first('id')) return;
    const size = Number(v.size);
    if (size > settings.previewMaxBytes) return this.record(job, { status: 'skipped', reason: `larger than ${Math.floor(settings.previewMaxBytes / 1024 / 1024)} MiB` });

    // The whole PDF is buffered for the render: pdfjs needs random access to it, and the size is
    // capped above (25 MiB by default), so this is bounded. It is decrypted (and its SHA-256
    // checked) here on the main thread; the worker never sees a key.
    let pdf: Uint8Array;
    try {
      pdf = await readAll(db, storage, v.blob_key, bindFor(job.fileId, job.versionId), size);
    } catch (err) {
      this.deps.logger.error({ err, versionId: job.versionId }, 'could not read a version for its preview');
      return this.record(job, { status: 'failed', reason: 'the stored file could not be read' });
    }
    let page: RenderedPage;
    try {
      page = await (this.deps.render ?? renderFirstPage)(pdf, { signal: this.abort.signal });
    } catch (err) {
      if (err instanceof RenderFailure) return this.record(job, { status: 'failed', reason: err.reason });
      throw err;
    }
    await this.record(job, { status: 'ready', page });
  }

  /** The row, its blob (when ready) and the audit event, in one transaction; the blob is discarded if that fails. */
  private async record(job: PreviewJob, outcome: { status: 'ready'; page: RenderedPage } | { status: 'failed' | 'skipped'; reason: string }): Promise<void> {
    const { db, storage, audit } = this.deps;
    let blob: StoredBlob | undefined;
    if (outcome.status === 'ready') blob = await storage.put(Readable.from([outcome.page.png]), { bind: previewBind(job.fileId, job.versionId) });
    try {
      await transaction(db, async (trx) => {
        if (blob) await storage.record(trx, blob, { plugin: 'files', workspaceId: job.workspaceId });
        const ready = outcome.status === 'ready' ? outcome.page : undefined;
        const reason = outcome.status === 'ready' ? null : outcome.reason;
        await trx('files_previews').insert({
          id: newId(),
          workspace_id: job.workspaceId,
          version_id: job.versionId,
          blob_key: blob?.key ?? null,
          status: outcome.status,
          reason,
          width: ready?.width ?? null,
          height: ready?.height ?? null,
          created_at: this.deps.now(),
        });
        await audit.record(trx, {
          actorId: null,
          workspaceId: job.workspaceId,
          action: `files.preview.${outcome.status}`,
          subjectType: 'File',
          subjectId: job.fileId,
          detail: { versionId: job.versionId, ...(ready ? { width: ready.width, height: ready.height, size: blob!.size } : { reason }) },
        });
      });
    } catch (err) {
      if (blob) await storage.discard(blob);
      // Another process recorded this version first, or the version was purged meanwhile.
      if (/unique|duplicate|foreign key|constraint/i.test((err as Error).message)) {
        this.deps.logger.debug({ err, versionId: job.versionId }, 'preview not recorded');
        return;
      }
      throw err;
    }
  }
}

async function readAll(db: Db, storage: StorageService, key: string, bind: string, size: number): Promise<Uint8Array> {
  const opened = await storage.open(db, key, { bind });
  const out = new Uint8Array(size);
  let at = 0;
  for await (const chunk of opened.stream as AsyncIterable<Buffer>) {
    if (at + chunk.length > size) {
      opened.stream.destroy();
      throw new Error('the stored file is longer than its row says');
    }
    out.set(chunk, at);
    at += chunk.length;
  }
  if (at !== size) throw new Error('the stored file is shorter than its row says');
  return out;
}

/**
 * Delete the previews of `versionIds` (rows and blobs) in `trx`, before the versions themselves go
 * (the trash purge). The bytes are deleted after COMMIT. Returns how many previews were removed.
 */
export async function removePreviews(trx: Trx, storage: StorageService, workspaceId: string, versionIds: string[]): Promise<number> {
  if (!versionIds.length) return 0;
  const rows = (await trx('files_previews').where({ workspace_id: workspaceId }).whereIn('version_id', versionIds).select('id', 'blob_key')) as Array<{ id: string; blob_key: string | null }>;
  if (!rows.length) return 0;
  await trx('files_previews').where({ workspace_id: workspaceId }).whereIn('id', rows.map((r) => r.id)).delete();
  for (const r of rows) if (r.blob_key) await storage.remove(trx, r.blob_key);
  return rows.length;
}
