// Streaming uploads (SECURITY.md controls 33-35). busboy parses the body as it arrives; each file
// is sniffed from its first bytes, then encrypted and written to storage while it streams, never
// held in memory whole. Limits (file size, workspace quota, file and field counts, name length)
// are enforced mid-stream: the stream is stopped, whatever was written is removed, and the caller
// answers 413. A malformed body is a 400, never a crash. Nothing is committed here: the caller
// records the blobs in its transaction, or discards them.
import busboy from 'busboy';
import type { Request } from 'express';
import { PassThrough, type Readable } from 'node:stream';
import { AtriumError } from '../errors.ts';
import { normaliseName } from '../names.ts';
import type { StorageService, StoredBlob } from '../storage/index.ts';
import { SNIFF_BYTES, sniff } from '../sniff.ts';

export interface IncomingFile {
  /** The name as given, cleaned by the kernel's name rule (no path, controls, bidi or zero-width characters). */
  name: string;
  contentType: string;
  blob: StoredBlob;
  /** The ids the blob was bound to (AAD): the file and the new version. */
  fileId: string;
  versionId: string;
}

export interface UploadProblem {
  name: string;
  message: string;
  status: 400 | 413 | 415;
}

export interface UploadLimits {
  maxFileBytes: number;
  /** Bytes left in the workspace quota when the request started. */
  quotaLeft: number;
  maxFiles: number;
  maxFields: number;
  /** The plugin the blobs belong to (their binding: `<plugin>:<fileId>:<versionId>`); default `files`. */
  plugin?: string;
}

/** Decides, when a file part starts, which file and version it becomes (same name = new version). */
export type Target = (name: string, fields: Record<string, string>) => Promise<{ fileId: string; versionId: string } | UploadProblem>;

const MAX_NAME_BYTES = 255;
/** Buffering between the socket, the multipart parser and the encryption (per upload). */
const STREAM_HWM = 1024 * 1024;

/**
 * A file name from a browser: its last path segment through the kernel's name rule (NFC; controls,
 * bidi controls and zero-width characters removed; no leading dot); '' if nothing is left.
 */
export function cleanName(raw: string): string {
  return normaliseName(raw.split(/[\\/]/).pop() ?? '');
}

/** Read up to `n` bytes from the start of a stream; returns them and a stream of the whole content. */
async function peek(stream: Readable, n: number): Promise<{ head: Buffer; whole: Readable }> {
  const parts: Buffer[] = [];
  let len = 0;
  if (stream.errored || stream.destroyed) throw stream.errored ?? new Error('the part ended early');
  await new Promise<void>((resolve, reject) => {
    const onData = (c: Buffer) => {
      parts.push(c);
      len += c.length;
      if (len >= n) done();
    };
    const done = () => {
      stream.off('data', onData);
      stream.off('end', done);
      stream.off('error', reject);
      stream.pause();
      resolve();
    };
    stream.on('data', onData);
    stream.once('end', done);
    stream.once('error', reject);
    stream.resume(); // it was paused while the target was looked up
  });
  const head = Buffer.concat(parts, len);
  const whole = new PassThrough({ highWaterMark: STREAM_HWM });
  whole.write(head);
  stream.on('error', (err) => whole.destroy(err));
  stream.pipe(whole);
  stream.resume();
  return { head: head.subarray(0, n), whole };
}

export interface UploadResult {
  fields: Record<string, string>;
  files: IncomingFile[];
  problems: UploadProblem[];
  /** The status to answer when there are problems. */
  status: 200 | 400 | 413 | 415;
}

/**
 * Parse a multipart upload. Resolves when the body is consumed (or abandoned after a limit).
 * If anything went wrong, every blob written for this request has been discarded already.
 */
export function receiveUpload(req: Request, storage: StorageService, limits: UploadLimits, target: Target): Promise<UploadResult> {
  return new Promise((resolve) => {
    const fields: Record<string, string> = {};
    const files: IncomingFile[] = [];
    const problems: UploadProblem[] = [];
    const pending: Array<Promise<void>> = [];
    const active = new Set<Readable>();
    let bytesSoFar = 0;
    let stopped = false;
    let finished = false;
    let bb: busboy.Busboy;

    const finish = async (status?: 400 | 413) => {
      if (finished) return;
      finished = true;
      await Promise.allSettled(pending);
      if (status && !problems.some((p) => p.status === status)) problems.push({ name: '', message: status === 413 ? 'The upload is larger than allowed.' : 'The upload could not be read.', status });
      if (problems.length) {
        await Promise.all(files.map((f) => storage.discard(f.blob)));
        const worst = problems.some((p) => p.status === 413) ? 413 : problems.some((p) => p.status === 415) ? 415 : 400;
        resolve({ fields, files: [], problems, status: worst });
      } else resolve({ fields, files, problems, status: 200 });
    };

    // Stop reading: the response is sent by the caller; the rest of the body is drained for a
    // moment (so the client reads our answer rather than a reset), then the socket is closed.
    const stop = (status: 400 | 413) => {
      if (stopped) return;
      stopped = true;
      req.unpipe(bb);
      bb.removeAllListeners('file');
      for (const s of active) s.destroy(new Error('upload stopped'));
      req.resume();
      const t = setTimeout(() => req.socket.destroy(), 5000);
      t.unref();
      req.once('end', () => clearTimeout(t));
      void finish(status);
    };

    try {
      bb = busboy({
        headers: req.headers,
        // busboy's defaults (16 KiB) make every 64 KiB socket read overflow the part's stream:
        // the parser then waits for each chunk to be read before taking the next one.
        highWaterMark: STREAM_HWM,
        fileHwm: STREAM_HWM,
        limits: { fileSize: limits.maxFileBytes + 1, files: limits.maxFiles, fields: limits.maxFields, fieldSize: 10_000, parts: limits.maxFiles + limits.maxFields },
        defParamCharset: 'utf8',
      });
    } catch {
      resolve({ fields, files: [], problems: [{ name: '', message: 'This is not a file upload.', status: 400 }], status: 400 });
      req.resume();
      return;
    }

    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) problems.push({ name: '', message: `The field ${name} is too long.`, status: 400 });
      fields[name] = value;
    });
    bb.on('filesLimit', () => problems.push({ name: '', message: `At most ${limits.maxFiles} files can be uploaded at once.`, status: 413 }));
    bb.on('fieldsLimit', () => problems.push({ name: '', message: 'The form has too many fields.', status: 400 }));
    bb.on('partsLimit', () => problems.push({ name: '', message: 'The form has too many parts.', status: 400 }));

    bb.on('file', (_field, stream, info) => {
      // A truncated body errors the part's stream; busboy reports it too ('error' below -> 400).
      stream.on('error', () => undefined);
      active.add(stream);
      stream.once('close', () => active.delete(stream));
      const name = cleanName(info.filename ?? '');
      const job = (async () => {
        if (!name) {
          stream.resume();
          if (info.filename !== undefined && info.filename !== '') problems.push({ name: '', message: 'A file has no usable name.', status: 400 });
          return;
        }
        if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
          stream.resume();
          problems.push({ name: name.slice(0, 60), message: 'The file name is longer than 255 bytes.', status: 400 });
          return;
        }
        stream.pause();
        const t = await target(name, { ...fields });
        if ('status' in t) {
          stream.resume();
          problems.push(t);
          return;
        }
        const { head, whole } = await peek(stream, SNIFF_BYTES);
        const verdict = await sniff(name, head);
        if (!verdict.ok) {
          whole.resume();
          problems.push({ name, message: `${name} was not accepted: ${verdict.reason}.`, status: 415 });
          return;
        }
        const room = Math.min(limits.maxFileBytes, limits.quotaLeft - bytesSoFar);
        stream.once('limit', () => whole.destroy(new AtriumError('ATR_TOO_LARGE', 'file size limit', { status: 413 })));
        active.add(whole);
        try {
          const blob = await storage.put(whole, { bind: `${limits.plugin ?? 'files'}:${t.fileId}:${t.versionId}`, limit: Math.max(0, room) });
          bytesSoFar += blob.size;
          files.push({ name, contentType: verdict.contentType, blob, fileId: t.fileId, versionId: t.versionId });
        } catch (err) {
          if (err instanceof AtriumError && err.code === 'ATR_TOO_LARGE') {
            const quota = room < limits.maxFileBytes;
            problems.push({ name, message: quota ? `${name} does not fit in this workspace's storage quota.` : `${name} is larger than the ${formatBytes(limits.maxFileBytes)} limit.`, status: 413 });
            stop(413);
          } else if (!stopped) {
            problems.push({ name, message: `${name} could not be stored.`, status: 400 });
            stop(400);
          }
        } finally {
          active.delete(whole);
        }
      })();
      pending.push(job.catch(() => undefined));
    });
    bb.on('error', () => stop(400));
    bb.on('close', () => void finish());
    req.on('aborted', () => stop(400));
    req.pipe(bb);
  });
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 ? Math.round(v) : Math.round(v * 10) / 10} ${units[i]}`;
}
