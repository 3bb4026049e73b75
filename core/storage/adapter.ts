// The blob store behind core/storage: where encrypted bytes live. Implementations: local disk
// (local.ts, the default) and S3-compatible object storage (s3.ts) for several processes.
// Keys are random, made by the store, never derived from anything a user sent.
import type { Readable } from 'node:stream';

export interface BlobInfo {
  key: string;
  /** Last modification, epoch ms (the sweeper spares blobs younger than its grace period). */
  modifiedAt: number;
}

/** A blob being written (BlobStore.create): bytes in order, then commit or abort. */
export interface BlobWriter {
  /** Resolves once `buf` has been handed to the system: the caller may then reuse it. */
  write(buf: Buffer): Promise<void>;
  /** Make the blob durable and visible under a new random key; returns the key. */
  commit(): Promise<string>;
  /** Give up: nothing is left behind. */
  abort(): Promise<void>;
}

/** Positional reads of one blob (BlobStore.reader). */
export interface BlobReader {
  /** Read up to `length` bytes at `position` into `into`; 0 at the end of the blob. */
  read(into: Buffer, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

export interface BlobStore {
  readonly kind: 'local' | 's3';
  /**
   * Write a whole stream under a new random key, atomically: the blob exists under its key only
   * once every byte is durable. If the source fails, nothing is left behind and the error is thrown.
   */
  put(source: Readable): Promise<string>;
  /** Read a blob, or the inclusive byte range [start, end] of it (no end: to the end of the blob). */
  get(key: string, range?: { start: number; end?: number }): Promise<Readable>;
  /**
   * Optional, for stores that can do better than streams (local disk): write into caller-owned
   * buffers without copying, and read into them. StorageService adapts put()/get() otherwise.
   */
  create?(): Promise<BlobWriter>;
  reader?(key: string): Promise<BlobReader>;
  /** Size in bytes, or null when there is no such blob. */
  size(key: string): Promise<number | null>;
  /** Remove a blob; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  /** Every blob (for the orphan sweeper). */
  list(): AsyncIterable<BlobInfo>;
  /** Remove unfinished writes older than `olderThan` (epoch ms) left by a crash; returns how many. */
  cleanPartial(olderThan: number): Promise<number>;
}

/** 128 random bits as 32 hex digits: the only shape a key can have. */
export const KEY_PATTERN = /^[0-9a-f]{32}$/;
