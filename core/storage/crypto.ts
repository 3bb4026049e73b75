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
// The chunk code itself is in frames.js (plain JavaScript, shared with the crypto threads); the
// pipelines that run it over large blobs are in pipeline.ts.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AtriumError } from '../errors.ts';
import { CHUNK, IntegrityFailure, TAG, openChunk as openFrame, sealChunk } from './frames.js';

export { CHUNK, TAG, sealChunk };
export const HEADER = 16;
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

/** Decrypt one chunk; throws (ATR_STORAGE_INTEGRITY) on a wrong tag, a short tag or wrong context. */
export function openChunk(key: Buffer, prefix: Buffer, bind: Buffer, index: number, last: boolean, ct: Buffer, tag: Buffer): Buffer {
  try {
    return openFrame(key, prefix, bind, index, last, ct, tag);
  } catch (err) {
    if (err instanceof IntegrityFailure) throw integrity(err.message, err.cause);
    throw err;
  }
}

/** The 16-byte header of a new blob, with a fresh random nonce prefix. */
export function newHeader(): { header: Buffer; prefix: Buffer } {
  const prefix = randomBytes(8);
  return { header: Buffer.concat([MAGIC, Buffer.from([FORMAT, 0, 0, 0]), prefix]), prefix };
}

export function integrity(detail: string, cause?: unknown): AtriumError {
  return new AtriumError('ATR_STORAGE_INTEGRITY', detail, { status: 500, cause });
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
