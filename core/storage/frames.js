// The chunk format of stored blobs (SECURITY.md control 39), in plain JavaScript so that the
// crypto worker (crypto-worker.js) and the main thread (crypto.ts) run the very same code.
// See crypto.ts for the blob layout. Nonce: prefix (8 B) || chunk index (uint32 BE). AAD: bind ||
// index (uint32 BE) || is-last (1 B). The tag is always 16 bytes.
import { createCipheriv, createDecipheriv } from 'node:crypto';

export const CHUNK = 64 * 1024;
export const TAG = 16;

function nonce(prefix, index) {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0, 0, 8);
  n.writeUInt32BE(index, 8);
  return n;
}

function aad(bind, index, last) {
  const tail = Buffer.alloc(5);
  tail.writeUInt32BE(index, 0);
  tail[4] = last ? 1 : 0;
  return Buffer.concat([bind, tail]);
}

/** An integrity failure; crypto.ts turns it into ATR_STORAGE_INTEGRITY. */
export class IntegrityFailure extends Error {
  constructor(detail, cause) {
    super(detail, cause ? { cause } : undefined);
    this.name = 'IntegrityFailure';
  }
}

/**
 * Copy `src` into `out` at `at`. Not `src.copy(out, at)`: into shared memory (the threads' slabs)
 * V8 copies word by word at best ("relaxed" atomic copies, about a tenth of the crypto thread's
 * time in a download); `fill` with a value exactly as long as the range is one memcpy.
 */
function place(out, at, src) {
  out.fill(src, at, at + src.length);
}

export function sealChunk(key, prefix, bind, index, last, plain) {
  const c = createCipheriv('aes-256-gcm', key, nonce(prefix, index), { authTagLength: TAG });
  c.setAAD(aad(bind, index, last));
  const ct = c.update(plain);
  c.final();
  return [ct, c.getAuthTag()];
}

export function openChunk(key, prefix, bind, index, last, ct, tag) {
  if (tag.length !== TAG) throw new IntegrityFailure(`chunk ${index}: tag is ${tag.length} bytes, not ${TAG}`);
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonce(prefix, index), { authTagLength: TAG });
    d.setAAD(aad(bind, index, last));
    d.setAuthTag(tag);
    const out = d.update(ct);
    d.final();
    return out;
  } catch (err) {
    throw new IntegrityFailure(`chunk ${index} failed authentication`, err);
  }
}

/**
 * Seal `src` (plaintext) as frames into `out`, chunk indices from `first`. Every chunk is CHUNK
 * bytes but the last one of a blob (`last`), which may be shorter or, for an empty blob, empty.
 * Returns the bytes written to `out` (src.length + 16 per chunk).
 */
export function sealFrames(key, prefix, bind, src, first, last, out) {
  const chunks = last ? Math.max(1, Math.ceil(src.length / CHUNK)) : src.length / CHUNK;
  if (!Number.isInteger(chunks)) throw new Error('sealFrames: only the last slab may end inside a chunk');
  let at = 0;
  for (let i = 0; i < chunks; i++) {
    const plain = src.subarray(i * CHUNK, Math.min(src.length, (i + 1) * CHUNK));
    const [ct, tag] = sealChunk(key, prefix, bind, first + i, last && i === chunks - 1, plain);
    place(out, at, ct);
    at += ct.length;
    place(out, at, tag);
    at += TAG;
  }
  return at;
}

/**
 * Open the frames in `src` (chunk indices from `first`, of a blob whose plaintext is `size` bytes)
 * into `out`; every chunk is authenticated before the next. Returns the plaintext bytes written.
 * Throws IntegrityFailure on a bad tag or when `src` does not hold whole frames.
 */
export function openFrames(key, prefix, bind, src, first, size, out) {
  const total = Math.max(1, Math.ceil(size / CHUNK));
  let at = 0;
  let written = 0;
  for (let i = first; at < src.length; i++) {
    if (i >= total) throw new IntegrityFailure('the blob has data after its last chunk');
    const plainLength = i === total - 1 ? size - i * CHUNK : CHUNK;
    if (src.length - at < plainLength + TAG) throw new IntegrityFailure(`the blob ends inside chunk ${i}: truncated`);
    const plain = openChunk(key, prefix, bind, i, i === total - 1, src.subarray(at, at + plainLength), src.subarray(at + plainLength, at + plainLength + TAG));
    place(out, written, plain);
    written += plain.length;
    at += plainLength + TAG;
  }
  return written;
}
