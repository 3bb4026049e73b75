// The encryption and decryption pipelines behind StorageService.put and open, for blobs large
// enough to be worth more threads (stores of more than one slab, 1 MiB of plaintext; reads of more
// than 512 KiB).
//
// Why this shape (docs/performance.md, Files): at 1 GiB/s, every buffer the main thread allocates
// (a cipher's output, a file read) is external memory to V8, and each ~64 MiB of it starts a
// major GC of the whole server heap; that, not AES or SHA, was half the CPU of an upload. So the
// main thread allocates nothing per chunk: each job borrows one SharedArrayBuffer of 2 x DEPTH
// slabs (input and output), AES-256-GCM runs in one crypto thread and SHA-256 in another
// (crypto-worker.js, over the same memory: hashing and encryption of a slab run side by side),
// and the slabs go round: source -> input slab -> sealed into an output slab -> written to the
// store -> free again. Reads open their slabs on two AES threads in turn (slab 0, 2, 4... on one,
// 1, 3, 5... on the other; issue 17): decryption was the one thread a download waited for.
// Their output is still lent in order, and hashed in order, whichever thread finishes first. A slab is reused only once everything that reads it has said so; a job
// that ends badly never returns its memory to the pool (a socket might still hold a view of it).
//
// The format is frames.js's, identical to what the small-blob path writes on the main thread.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { IntegrityFailure, CHUNK, TAG, openFrames, sealFrames } from './frames.js';

/** Chunks per slab. */
const PER_SLAB = 16;
/** Plaintext bytes in a full slab. */
export const SLAB_PLAIN = PER_SLAB * CHUNK;
/** Bytes of a slab: room for PER_SLAB whole frames. */
const SLAB = PER_SLAB * (CHUNK + TAG);
/**
 * Reads of at most this many chunks (512 KiB) are opened on the calling thread; larger ones on
 * the threads. Measured (issue 17, open + writeTo, medians of 40): at 256 and 512 KiB inline took
 * 0.7 and 1.0 ms against 1.1 and 1.4 on the threads; from 768 KiB on they tie or the threads win,
 * and inline reads of 1 MiB or more swing from 2 to 12 ms (their two fresh 1 MiB buffers are new
 * mappings, slow to touch on this VM) where the threads take a steady 2.2 ms.
 */
const INLINE_OPEN = 8;
/** Slabs in flight per job and direction. */
const DEPTH = 4;
/** Idle slab sets kept for the next job. */
const POOL = 2;
const slots = () => Array.from({ length: DEPTH }, (_, i) => DEPTH - 1 - i);

export interface Lease {
  /** Valid until release() is called. */
  buf: Buffer;
  release(): void;
}

interface Reply {
  id: number;
  len?: number;
  hex?: string;
  error?: string;
  integrity?: boolean;
}

/** One crypto thread: messages are answered in order, so a FIFO of waiters matches replies. */
class CryptoThread {
  private worker: Worker | undefined;
  private waiting: Array<{ resolve: (r: Reply) => void; reject: (e: Error) => void }> = [];
  private held = 0;

  constructor(private readonly name: string) {}

  private spawn(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./crypto-worker.js', import.meta.url), { name: this.name, execArgv: [], stdout: false, stderr: false, resourceLimits: { maxOldGenerationSizeMb: 32 } });
    w.on('message', (m: Reply) => this.waiting.shift()?.resolve(m));
    const fail = (err: Error) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      const waiting = this.waiting;
      this.waiting = [];
      for (const p of waiting) p.reject(err);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the ${this.name} thread stopped (exit code ${code})`)));
    if (this.held === 0) w.unref();
    this.worker = w;
    return w;
  }

  /** Stop the thread (jobs on it fail; the next job starts a new one). */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  /** Start the thread now (unref'd: it never keeps the process alive on its own). */
  warm(): void {
    this.spawn();
  }

  /** Keep the thread (and the process) alive while a job uses it. */
  hold(): void {
    if (this.held++ === 0) this.spawn().ref();
  }

  letGo(): void {
    if (--this.held === 0) this.worker?.unref();
  }

  send(msg: object): void {
    this.spawn().postMessage(msg);
  }

  call(msg: object): Promise<Reply> {
    const w = this.spawn();
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      w.postMessage(msg);
    });
  }
}

const aes = new CryptoThread('atrium-aes');
/** The second AES thread: reads alternate their slabs between the two. */
const aes2 = new CryptoThread('atrium-aes-2');
const sha = new CryptoThread('atrium-sha');
const all = [aes, aes2, sha];

/**
 * Start the crypto threads ahead of the first large blob (about 9 MiB of memory each, idle), so
 * an upload or a download does not pay their start-up. The server does this shortly after it starts.
 */
export function warmCryptoThreads(): void {
  for (const t of all) t.warm();
}

/** Stop the threads, as a crash would: running jobs fail, later ones start new threads. */
export async function stopCryptoThreads(): Promise<void> {
  await Promise.all(all.map((t) => t.terminate()));
}
const pool: SharedArrayBuffer[] = [];
let nextId = 1;

function failure(r: Reply, integrity: (detail: string) => Error): Error | undefined {
  if (r.error === undefined) return undefined;
  return r.integrity ? integrity(r.error) : new Error(r.error);
}

/** Slots of a slab set and the waits for them. */
class Job {
  readonly id = nextId++;
  readonly sab: SharedArrayBuffer;
  readonly mem: Buffer;
  private readonly free: [number[], number[]] = [slots(), slots()];
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  failed: Error | undefined;
  private closed = false;
  private recycled = false;
  private readonly hashing: boolean;

  /** `ciphers`: the AES threads this job uses (each gets the job's key). */
  constructor(
    start: { key?: Buffer; prefix?: Buffer; bind?: Buffer; size?: number },
    hash: boolean,
    readonly ciphers: CryptoThread[] = [aes],
  ) {
    this.sab = pool.pop() ?? new SharedArrayBuffer(2 * DEPTH * SLAB);
    this.mem = Buffer.from(this.sab);
    for (const t of ciphers) {
      t.hold();
      t.send({ op: 'start', id: this.id, sab: this.sab, key: start.key, prefix: start.prefix, bind: start.bind, size: start.size });
    }
    if (hash) {
      sha.hold();
      sha.send({ op: 'start', id: this.id, sab: this.sab, hash: true });
    }
    this.hashing = hash;
  }

  /** Byte offset of input slot i (side 0) or output slot i (side 1). */
  at(side: 0 | 1, slot: number): number {
    return (side * DEPTH + slot) * SLAB;
  }

  async take(side: 0 | 1): Promise<number> {
    for (;;) {
      if (this.failed) throw this.failed;
      const slot = this.free[side].pop();
      if (slot !== undefined) return slot;
      await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    }
  }

  give(side: 0 | 1, slot: number): void {
    this.free[side].push(slot);
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.resolve();
    if (this.closed) this.recycle();
  }

  /** Back to the pool once the job is closed and every slot is home (never after a failure). */
  private recycle(): void {
    if (this.recycled || this.failed || this.free[0].length !== DEPTH || this.free[1].length !== DEPTH) return;
    this.recycled = true;
    if (pool.length < POOL) pool.push(this.sab);
  }

  fail(err: Error): void {
    this.failed ??= err;
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.reject(this.failed);
  }

  /** End the job in both threads; the memory goes back to the pool once every slot is home. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.ciphers) {
      t.send({ op: 'end', id: this.id });
      t.letGo();
    }
    if (this.hashing) {
      sha.send({ op: 'end', id: this.id });
      sha.letGo();
    }
    this.recycle(); // now, or when the last lent slot comes home
  }
}

/** Items in order; each is a promise, so a failure surfaces after everything before it. */
class Ordered<T> {
  private items: Array<Promise<T>> = [];
  private ended = false;
  private wake: (() => void) | undefined;

  push(p: Promise<T>): void {
    p.catch(() => undefined); // surfaced, in order, by the iterator
    this.items.push(p);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const p = this.items.shift();
      if (p) {
        yield await p;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

const noop = () => undefined;

/**
 * Copy `src` into the shared buffer `mem` at `at`. Not `src.copy(mem, at)`: V8 copies
 * into shared memory word by word only when both sides have the same alignment modulo 8, and
 * byte by byte otherwise (3.9 GB/s here; socket chunks sliced by busboy are almost never aligned
 * with their place in a slab). `fill` with a value exactly as long as the range is one plain
 * memcpy in Node's C++, whatever the alignment (30 GB/s).
 */
export function copyIntoShared(src: Buffer, mem: Buffer, at: number): void {
  mem.fill(src, at, at + src.length);
}

export interface SealOptions {
  key: Buffer;
  prefix: Buffer;
  bind: Buffer;
  header: Buffer;
  limit: number;
  tooLarge: () => Error;
  integrity: (detail: string) => Error;
}

/**
 * Plaintext in (write/end), frames out (output(): the header, then frames in order, each lent
 * until released). Blobs up to one slab are sealed on the calling thread when they end.
 */
export class Sealer {
  size = 0;
  sha256: string | undefined;
  private small: Buffer[] = [];
  private smallLength = 0;
  private job: Job | undefined;
  private cur: number | undefined;
  private curLength = 0;
  private held: number | undefined;
  private index = 0;
  private readonly out = new Ordered<Lease>();

  constructor(private readonly o: SealOptions) {
    this.out.push(Promise.resolve({ buf: o.header, release: noop }));
  }

  output(): AsyncIterable<Lease> {
    return this.out;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.job?.failed) throw this.job.failed;
    this.size += chunk.length;
    if (this.size > this.o.limit) throw this.o.tooLarge();
    if (!this.job) {
      if (this.smallLength + chunk.length <= SLAB_PLAIN) {
        this.small.push(chunk);
        this.smallLength += chunk.length;
        return;
      }
      this.job = new Job({ key: this.o.key, prefix: this.o.prefix, bind: this.o.bind }, true);
      const early = this.small;
      this.small = [];
      for (const c of early) await this.fill(c);
    }
    await this.fill(chunk);
  }

  private async fill(chunk: Buffer): Promise<void> {
    const job = this.job!;
    let at = 0;
    while (at < chunk.length) {
      if (this.held !== undefined) {
        const slot = this.held;
        this.held = undefined;
        await this.dispatch(slot, SLAB_PLAIN, false);
      }
      if (this.cur === undefined) {
        this.cur = await job.take(0);
        this.curLength = 0;
      }
      const n = Math.min(SLAB_PLAIN - this.curLength, chunk.length - at);
      const dst = job.at(0, this.cur) + this.curLength;
      copyIntoShared(chunk.subarray(at, at + n), job.mem, dst);
      this.curLength += n;
      at += n;
      // A full slab waits until more bytes come: only then is it known not to hold the last chunk.
      if (this.curLength === SLAB_PLAIN) {
        this.held = this.cur;
        this.cur = undefined;
      }
    }
  }

  private async dispatch(slot: number, len: number, last: boolean): Promise<void> {
    const job = this.job!;
    const first = this.index;
    this.index += last ? Math.max(1, Math.ceil(len / CHUNK)) : len / CHUNK;
    const outSlot = await job.take(1);
    const src = job.at(0, slot);
    const dst = job.at(1, outSlot);
    const sealed = aes.call({ op: 'seal', id: job.id, src, len, dst, cap: SLAB, first, last });
    const hashed = sha.call({ op: 'hash', id: job.id, src, len });
    void Promise.all([sealed, hashed]).then(
      ([a, b]) => {
        const err = failure(a, this.o.integrity) ?? failure(b, this.o.integrity);
        if (err) job.fail(err);
        else job.give(0, slot);
      },
      (err: Error) => job.fail(err),
    );
    this.out.push(
      sealed.then((r) => {
        const err = failure(r, this.o.integrity);
        if (err) throw err;
        return { buf: job.mem.subarray(dst, dst + r.len!), release: () => job.give(1, outSlot) };
      }),
    );
  }

  /** No more plaintext: seal what is left (as the blob's last chunk) and learn the digest. */
  async end(): Promise<void> {
    if (!this.job) {
      const plain = this.small.length === 1 ? this.small[0]! : Buffer.concat(this.small, this.smallLength);
      this.small = [];
      const frames = Buffer.allocUnsafe(plain.length + Math.max(1, Math.ceil(plain.length / CHUNK)) * TAG);
      const n = sealFrames(this.o.key, this.o.prefix, this.o.bind, plain, 0, true, frames);
      this.out.push(Promise.resolve({ buf: frames.subarray(0, n), release: noop }));
      this.sha256 = createHash('sha256').update(plain).digest('hex');
      this.out.end();
      return;
    }
    const job = this.job;
    if (job.failed) throw job.failed;
    if (this.held !== undefined) await this.dispatch(this.held, SLAB_PLAIN, true);
    else await this.dispatch(this.cur!, this.curLength, true);
    this.held = this.cur = undefined;
    this.out.end();
    const r = await sha.call({ op: 'digest', id: job.id });
    const err = failure(r, this.o.integrity);
    if (err) throw err;
    this.sha256 = r.hex!;
  }

  /** Stop: pending and later writes fail with `err`, and the output ends with it. */
  fail(err: Error): void {
    this.job?.fail(err);
    this.out.push(Promise.reject(err));
    this.out.end();
  }

  close(): void {
    this.job?.close();
  }
}

/** Positional reads of a blob's bytes (BlobReader in adapter.ts). */
export interface FrameSource {
  read(into: Buffer, length: number, position: number): Promise<number>;
}

export interface OpenPlan {
  key: Buffer;
  prefix: Buffer;
  bind: Buffer;
  /** Plaintext size of the blob. */
  size: number;
  /** Chunks [first, last] and their bytes [from, to] in the blob. */
  first: number;
  last: number;
  from: number;
  to: number;
  /** Bytes of plaintext to drop from the front of the first chunk, and to release in all. */
  skip: number;
  length: number;
  /** Set for a whole read: checked before the last slab is released. */
  sha256: string | undefined;
  /** A whole read also fails if the blob goes on after its last frame. */
  whole: boolean;
  integrity: (detail: string) => Error;
}

const frameLength = (size: number, i: number) => (i === Math.max(1, Math.ceil(size / CHUNK)) - 1 ? size - i * CHUNK : CHUNK) + TAG;

async function readFully(src: FrameSource, into: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const n = await src.read(into.subarray(got), length - got, position + got);
    if (n <= 0) break;
    got += n;
  }
  return got;
}

/**
 * Frames in (read from `src`), plaintext out: leases in order. Every chunk is authenticated before
 * any of its bytes are lent; a whole read's last slab is lent only once the SHA-256 matches.
 */
export class Opener {
  private job: Job | undefined;
  private stopped = false;

  constructor(
    private readonly p: OpenPlan,
    private readonly src: FrameSource,
  ) {}

  async *leases(): AsyncGenerator<Lease> {
    const p = this.p;
    let skip = p.skip;
    let remaining = p.length;
    const trim = (buf: Buffer): Buffer => {
      let out = buf;
      if (skip) {
        out = out.subarray(Math.min(skip, out.length));
        skip = 0;
      }
      if (out.length > remaining) out = out.subarray(0, remaining);
      remaining -= out.length;
      return out;
    };
    if (p.last - p.first < INLINE_OPEN) {
      // A small read: on this thread.
      const frames = await this.readFrames(Buffer.allocUnsafe(p.to - p.from + 1), p.first, p.last + 1, p.from);
      const plain = Buffer.allocUnsafe(p.to - p.from + 1);
      const n = this.open(frames, p.first, plain);
      if (p.sha256 !== undefined && createHash('sha256').update(plain.subarray(0, n)).digest('hex') !== p.sha256) {
        throw p.integrity('the plaintext does not match its recorded SHA-256');
      }
      const out = trim(plain.subarray(0, n));
      if (out.length) yield { buf: out, release: noop };
      return;
    }
    const job = (this.job = new Job({ key: p.key, prefix: p.prefix, bind: p.bind, size: p.size }, p.sha256 !== undefined, [aes, aes2]));
    const queue = new Ordered<{ slot: number; len: number; hashed: Promise<void> | undefined; final: boolean }>();
    void this.pump(job, queue);
    let complete = false;
    try {
      yield* this.lend(job, queue, trim);
      complete = true;
    } finally {
      // Stopped early (an error, or the reader went away): nothing more is read.
      if (!complete) this.close();
    }
  }

  private async *lend(job: Job, queue: Ordered<{ slot: number; len: number; hashed: Promise<void> | undefined; final: boolean }>, trim: (b: Buffer) => Buffer): AsyncGenerator<Lease> {
    const p = this.p;
    for await (const item of queue) {
      const base = job.at(1, item.slot);
      if (item.final && item.hashed) {
        await item.hashed;
        const r = await sha.call({ op: 'digest', id: job.id });
        if (r.hex !== p.sha256) throw p.integrity('the plaintext does not match its recorded SHA-256');
      }
      const out = trim(job.mem.subarray(base, base + item.len));
      const release = () => {
        if (item.hashed) item.hashed.then(() => job.give(1, item.slot), noop);
        else job.give(1, item.slot);
      };
      if (out.length) yield { buf: out, release };
      else release();
    }
  }

  private open(frames: Buffer, first: number, into: Buffer): number {
    try {
      return openFrames(this.p.key, this.p.prefix, this.p.bind, frames, first, this.p.size, into);
    } catch (err) {
      if (err instanceof IntegrityFailure) throw this.p.integrity(err.message);
      throw err;
    }
  }

  /** Read the frames of chunks [from, to) at `position` into `into`; truncation is an integrity failure. */
  private async readFrames(into: Buffer, from: number, to: number, position: number): Promise<Buffer> {
    let length = 0;
    for (let i = from; i < to; i++) length += frameLength(this.p.size, i);
    const got = await readFully(this.src, into, length, position);
    if (got < length) {
      let at = 0;
      let i = from;
      while (at + frameLength(this.p.size, i) <= got) at += frameLength(this.p.size, i++);
      throw this.p.integrity(`the blob ends inside chunk ${i}: truncated`);
    }
    if (to === this.p.last + 1 && this.p.whole) {
      const extra = await this.src.read(Buffer.allocUnsafe(1), 1, position + length);
      if (extra > 0) throw this.p.integrity('the blob has data after its last chunk');
    }
    return into.subarray(0, length);
  }

  private async pump(job: Job, queue: Ordered<{ slot: number; len: number; hashed: Promise<void> | undefined; final: boolean }>): Promise<void> {
    const p = this.p;
    let position = p.from;
    let turn = 0;
    // The slabs are opened on the job's AES threads in turn and may finish out of order; the SHA
    // thread must get them in order: each slab's hash is sent once the one before it was sent.
    let hashSent: Promise<unknown> = Promise.resolve();
    try {
      for (let c = p.first; c <= p.last && !this.stopped; c += PER_SLAB) {
        const end = Math.min(p.last + 1, c + PER_SLAB);
        const inSlot = await job.take(0);
        const src = job.at(0, inSlot);
        const frames = await this.readFrames(job.mem.subarray(src, src + SLAB), c, end, position);
        position += frames.length;
        const outSlot = await job.take(1);
        const dst = job.at(1, outSlot);
        const thread = job.ciphers[turn++ % job.ciphers.length]!;
        const opened = thread.call({ op: 'open', id: job.id, src, len: frames.length, dst, cap: SLAB, first: c }).then((r) => {
          job.give(0, inSlot);
          const err = failure(r, p.integrity);
          if (err) throw err;
          return r.len!;
        });
        let hashed: Promise<void> | undefined;
        if (p.sha256 !== undefined) {
          // Wrapped, so that `sent` settles when the message is posted, not when it is answered.
          const sent = hashSent.then(() => opened).then((len) => ({ reply: sha.call({ op: 'hash', id: job.id, src: dst, len }) }));
          hashSent = sent;
          hashed = sent.then(async ({ reply }) => {
            const e = failure(await reply, p.integrity);
            if (e) throw e;
          });
          hashed.catch((e: Error) => job.fail(e));
        }
        const final = end === p.last + 1;
        queue.push(opened.then((len) => ({ slot: outSlot, len, hashed, final })));
      }
    } catch (err) {
      queue.push(Promise.reject(err));
    }
    queue.end();
  }

  /** Stop reading; lent buffers stay valid (the memory is not reused after an early stop). */
  close(): void {
    this.stopped = true;
    if (this.job) {
      this.job.fail(new Error('closed'));
      this.job.close();
    }
  }

  /** After the last lease was released: the job ends and its memory may serve the next one. */
  finish(): void {
    this.job?.close();
  }
}
