// Encryption at rest for stored blobs (SECURITY.md control 39): a random 256-bit key per blob,
// AES-256-GCM over 64 KiB chunks, each chunk authenticated on its own so a download streams and
// a bad chunk stops the stream before any of its plaintext is released.
//
// Blob layout:  header (16 B: "ATRS", format 1, 3 reserved zero bytes, 8 B random nonce prefix)
//               then one frame per chunk: ciphertext (64 KiB, the last one 0..64 KiB) + 16 B tag.
// Nonce:        prefix (8 B) || chunk index (uint32 BE).
// AAD:          bind (the owner's context, e.g. "files:<fileId>:<version>") || index (uint32 BE) ||
//               is-last (1 B). Moving, reordering, truncating or appending chunks, or moving a
//               blob to another file, changes the nonce or the AAD and fails the tag.
// The tag is always 16 bytes: every decipher is created with authTagLength 16 (Node 20 would
// otherwise accept a 4-byte tag).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { AtriumError } from '../errors.ts';
import { PlaintextHash } from './hash-worker.ts';

export const CHUNK = 64 * 1024;
export const TAG = 16;
export const HEADER = 16;
/** Stream buffering only (not the format): each stream buffers up to 1 MiB on each side. */
const BATCH = 1024 * 1024;
const MAGIC = Buffer.from('ATRS');
const FORMAT = 1;
export const ALG = 'aes-256-gcm-chunked-v1';

/** Number of chunks a plaintext of `size` bytes is stored in (an empty blob still has one). */
export function chunkCount(size: number): number {
  return Math.max(1, Math.ceil(size / CHUNK));
}

/** Size of the stored blob for a plaintext of `size` bytes. */
export function blobSize(size: number): number {
  return HEADER + size + chunkCount(size) * TAG;
}

function nonce(prefix: Buffer, index: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0, 0, 8);
  n.writeUInt32BE(index, 8);
  return n;
}

function aad(bind: Buffer, index: number, last: boolean): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt32BE(index, 0);
  tail[4] = last ? 1 : 0;
  return Buffer.concat([bind, tail]);
}

export function sealChunk(key: Buffer, prefix: Buffer, bind: Buffer, index: number, last: boolean, plain: Buffer): Buffer[] {
  const c = createCipheriv('aes-256-gcm', key, nonce(prefix, index), { authTagLength: TAG });
  c.setAAD(aad(bind, index, last));
  const ct = c.update(plain);
  c.final();
  return [ct, c.getAuthTag()];
}

/** Decrypt one chunk; throws (ATR_STORAGE_INTEGRITY) on a wrong tag, a short tag or wrong context. */
export function openChunk(key: Buffer, prefix: Buffer, bind: Buffer, index: number, last: boolean, ct: Buffer, tag: Buffer): Buffer {
  if (tag.length !== TAG) throw integrity(`chunk ${index}: tag is ${tag.length} bytes, not ${TAG}`);
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonce(prefix, index), { authTagLength: TAG });
    d.setAAD(aad(bind, index, last));
    d.setAuthTag(tag);
    const out = d.update(ct);
    d.final();
    return out;
  } catch (err) {
    throw integrity(`chunk ${index} failed authentication`, err);
  }
}

export function integrity(detail: string, cause?: unknown): AtriumError {
  return new AtriumError('ATR_STORAGE_INTEGRITY', detail, { status: 500, cause });
}

/** Collects incoming buffers and hands out exact-size slices without copying more than needed. */
class Pending {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length) {
      this.parts.push(b);
      this.length += b.length;
    }
  }
  take(n: number): Buffer {
    const first = this.parts[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
    } else {
      // Copy only the parts the slice spans, not everything pending.
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const p = this.parts[0]!;
        const k = Math.min(p.length, n - at);
        p.copy(out, at, 0, k);
        at += k;
        if (k === p.length) this.parts.shift();
        else this.parts[0] = p.subarray(k);
      }
    }
    this.length -= n;
    return out;
  }
}

export interface SealResult {
  size: number;
  sha256: string;
}

/**
 * Plaintext in, blob out. Counts and hashes the plaintext; `result()` is valid after 'end'.
 * `limit` (bytes) makes the stream fail with ATR_TOO_LARGE as soon as the plaintext exceeds it.
 */
export class EncryptStream extends Transform {
  private readonly pending = new Pending();
  // SHA-256 runs on a second thread (hash-worker.ts) while AES-GCM runs here.
  private readonly hash = new PlaintextHash();
  private readonly prefix = randomBytes(8);
  private index = 0;
  private size = 0;
  private headerSent = false;
  private sha256: string | undefined;

  constructor(
    private readonly key: Buffer,
    private readonly bind: Buffer,
    private readonly limit = Infinity,
  ) {
    super({ readableHighWaterMark: BATCH, writableHighWaterMark: BATCH });
  }

  private header(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.push(Buffer.concat([MAGIC, Buffer.from([FORMAT, 0, 0, 0]), this.prefix]));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limit) return cb(new AtriumError('ATR_TOO_LARGE', `more than ${this.limit} bytes`, { status: 413 }));
    // Hand the bytes to the hashing thread first, so it hashes while this thread encrypts.
    const wait = this.hash.update(chunk);
    this.pending.push(chunk);
    this.header();
    // Keep at least one byte back: only at the end do we know which chunk is the last. Frames are
    // pushed as they are (no copy); the 1 MiB buffers let the file stream gather them into writev.
    while (this.pending.length > CHUNK) {
      for (const part of sealChunk(this.key, this.prefix, this.bind, this.index++, false, this.pending.take(CHUNK))) this.push(part);
    }
    if (wait) wait.then(() => cb(), cb);
    else cb();
  }

  override _flush(cb: TransformCallback): void {
    this.header();
    const rest = this.pending.length ? this.pending.take(this.pending.length) : Buffer.alloc(0);
    for (const part of sealChunk(this.key, this.prefix, this.bind, this.index++, true, rest)) this.push(part);
    this.hash.digest().then((hex) => {
      this.sha256 = hex;
      cb();
    }, cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.hash.abort();
    cb(err);
  }

  result(): SealResult {
    if (this.sha256 === undefined) throw new Error('EncryptStream.result() before the stream ended');
    return { size: this.size, sha256: this.sha256 };
  }
}

export interface OpenOptions {
  /** Plaintext size as recorded when the blob was stored. */
  size: number;
  /** First and last plaintext byte wanted (inclusive). Default: the whole file. */
  start?: number;
  end?: number;
  /** The recorded SHA-256 of the plaintext: checked (whole reads only) before the last chunk is released. */
  sha256?: string;
}

/** The ciphertext byte range to read for a plaintext range: [from, to] inclusive, plus the chunks covered. */
export function cipherRange(o: OpenOptions): { from: number; to: number; first: number; last: number } {
  const start = o.start ?? 0;
  const end = o.end ?? Math.max(0, o.size - 1);
  const first = Math.floor(start / CHUNK);
  const last = o.size === 0 ? 0 : Math.floor(end / CHUNK);
  const from = HEADER + first * (CHUNK + TAG);
  const lastPlain = last === chunkCount(o.size) - 1 ? o.size - last * CHUNK : CHUNK;
  const to = HEADER + last * (CHUNK + TAG) + lastPlain + TAG - 1;
  return { from, to, first, last };
}

/**
 * Blob frames in, plaintext out. Expects exactly the frames of `cipherRange(o)` (the caller reads
 * the header separately for the nonce prefix). Every chunk is authenticated before any of its
 * bytes are pushed; missing or extra bytes fail the stream.
 */
export class DecryptStream extends Transform {
  private readonly pending = new Pending();
  private readonly total: number;
  private index: number;
  private readonly lastIndex: number;
  private skip: number;
  private remaining: number;
  private readonly hash: PlaintextHash | undefined;

  constructor(
    private readonly key: Buffer,
    private readonly prefix: Buffer,
    private readonly bind: Buffer,
    private readonly o: OpenOptions,
  ) {
    // 1 MiB each way (as EncryptStream): with a one-frame buffer, every frame was a
    // stop-and-go between the file, the decryption and the socket.
    super({ readableHighWaterMark: BATCH, writableHighWaterMark: BATCH });
    const r = cipherRange(o);
    this.total = chunkCount(o.size);
    this.index = r.first;
    this.lastIndex = r.last;
    const start = o.start ?? 0;
    this.skip = start - r.first * CHUNK;
    this.remaining = o.size === 0 ? 0 : (o.end ?? o.size - 1) - start + 1;
    const whole = start === 0 && (o.end === undefined || o.end >= o.size - 1);
    this.hash = whole && o.sha256 ? new PlaintextHash() : undefined;
  }

  private frameLength(i: number): number {
    return (i === this.total - 1 ? this.o.size - i * CHUNK : CHUNK) + TAG;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.push(chunk);
    this.drain(cb);
  }

  /** Open every whole frame pending; goes on asynchronously when the hash must catch up. */
  private drain(cb: TransformCallback): void {
    try {
      while (this.index <= this.lastIndex && this.pending.length >= this.frameLength(this.index)) {
        const frame = this.pending.take(this.frameLength(this.index));
        const i = this.index++;
        const isLast = i === this.total - 1;
        const plain = openChunk(this.key, this.prefix, this.bind, i, isLast, frame.subarray(0, frame.length - TAG), frame.subarray(frame.length - TAG));
        if (this.hash) {
          const wait = this.hash.update(plain);
          if (wait || isLast) {
            // The last chunk is held back until the digest of the whole plaintext matches.
            const hash = this.hash;
            (wait ?? Promise.resolve()).then(() => (isLast ? hash.digest() : undefined)).then(
              (hex) => {
                if (isLast && hex !== this.o.sha256) return cb(integrity('the plaintext does not match its recorded SHA-256'));
                this.release(plain);
                this.drain(cb);
              },
              (err: Error) => cb(err),
            );
            return;
          }
        }
        this.release(plain);
      }
      if (this.index > this.lastIndex && this.pending.length) throw integrity('the blob has data after its last chunk');
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private release(plain: Buffer): void {
    let out = plain;
    if (this.skip) {
      out = out.subarray(this.skip);
      this.skip = 0;
    }
    if (out.length > this.remaining) out = out.subarray(0, this.remaining);
    this.remaining -= out.length;
    if (out.length) this.push(out);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.hash?.abort();
    cb(err);
  }

  override _flush(cb: TransformCallback): void {
    if (this.index <= this.lastIndex) return cb(integrity(`the blob ends inside chunk ${this.index}: truncated`));
    cb();
  }
}

/** Parse and check the 16-byte header; returns the nonce prefix. */
export function readHeader(header: Buffer): Buffer {
  if (header.length !== HEADER || !header.subarray(0, 4).equals(MAGIC) || header[4] !== FORMAT) throw integrity('not an Atrium blob (bad header)');
  return Buffer.from(header.subarray(8, 16));
}

// ---- key wrapping: the blob key (DEK) sealed under a master key (KEK), bound to its context

/** `v1.<iv>.<ciphertext>.<tag>` (base64url). AAD binds the KEK id and the blob's context. */
export function wrapKey(kek: Buffer, kekId: string, dek: Buffer, bind: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG });
  c.setAAD(Buffer.from(`atrium-dek:${kekId}:${bind}`));
  const ct = Buffer.concat([c.update(dek), c.final()]);
  return ['v1', iv.toString('base64url'), ct.toString('base64url'), c.getAuthTag().toString('base64url')].join('.');
}

export function unwrapKey(kek: Buffer, kekId: string, wrapped: string, bind: string): Buffer {
  const [v, ivT, ctT, tagT] = wrapped.split('.');
  if (v !== 'v1' || !ivT || !ctT || !tagT) throw new AtriumError('ATR_STORAGE_KEY', 'wrapped key has an unknown format');
  const tag = Buffer.from(tagT, 'base64url');
  if (tag.length !== TAG) throw new AtriumError('ATR_STORAGE_KEY', 'wrapped key has a short tag');
  try {
    const d = createDecipheriv('aes-256-gcm', kek, Buffer.from(ivT, 'base64url'), { authTagLength: TAG });
    d.setAAD(Buffer.from(`atrium-dek:${kekId}:${bind}`));
    d.setAuthTag(tag);
    const dek = Buffer.concat([d.update(Buffer.from(ctT, 'base64url')), d.final()]);
    if (dek.length !== 32) throw new Error('bad key length');
    return dek;
  } catch (err) {
    throw new AtriumError('ATR_STORAGE_KEY', `cannot unwrap a file key with master key ${kekId}`, { cause: err });
  }
}
