// SHA-256 of a blob's plaintext on a second thread, so that hashing and AES-GCM (which stays on
// the calling thread) use both cores. Only the hashing moves: the key never leaves the main
// thread, and what is hashed, and when the digest is known, are exactly as before.
//
// One worker per process, created on first use and unref'd whenever it has nothing to do (it
// never keeps the process alive). Each hash job owns at most SLABS buffers of SLAB bytes that
// travel between the threads: the main thread copies plaintext into a free slab and transfers it
// (no copy) to the worker, which hashes it and transfers it back. When every slab is out, the
// writer waits, so memory stays bounded (SLABS * SLAB per job) whatever the stream's speed.
// Tried first on the 2-core bench machine: a SharedArrayBuffer ring, but V8 copies into shared
// memory with relaxed atomic word moves, not memcpy, and in `perf` that copy took more samples
// than AES-GCM itself; a structured clone per chunk would allocate fresh memory on the other
// side every time (page faults). See docs/performance.md (Files) for what was measured. The source buffers themselves cannot be transferred: they
// are often views into buffers their producer still uses (busboy's socket chunks), and AES-GCM
// still reads them after the copy.
//
// Small plaintexts (under LOCAL_BELOW bytes in all) are hashed on the calling thread: for them
// the round trips would cost more than the hash.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

const SLAB = 1024 * 1024;
const SLABS = 4;
const LOCAL_BELOW = 1024 * 1024;

// Plain JavaScript evaluated in the worker: no TypeScript loader is needed there (execArgv: []).
const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'start') {
    jobs.set(m.id, createHash('sha256'));
    return;
  }
  const h = jobs.get(m.id);
  if (m.op === 'data') {
    if (h) h.update(new Uint8Array(m.buf, 0, m.len));
    parentPort.postMessage({ id: m.id, op: 'read', buf: m.buf }, [m.buf]);
  } else if (m.op === 'end') {
    jobs.delete(m.id);
    if (h) parentPort.postMessage({ id: m.id, op: 'digest', hex: h.digest('hex') });
  } else if (m.op === 'abort') {
    jobs.delete(m.id);
  }
});
`;

interface WorkerMessage {
  id: number;
  op: 'read' | 'digest';
  buf?: ArrayBuffer;
  hex?: string;
}

class HashThread {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, RemoteHash>();
  private nextId = 1;

  attach(job: RemoteHash): number {
    const w = this.spawn();
    const id = this.nextId++;
    this.jobs.set(id, job);
    if (this.jobs.size === 1) w.ref();
    w.postMessage({ op: 'start', id });
    return id;
  }

  post(msg: { op: 'data'; id: number; buf: ArrayBuffer; len: number } | { op: 'end' | 'abort'; id: number }, transfer?: ArrayBuffer[]): void {
    this.worker?.postMessage(msg, transfer);
  }

  detach(id: number): void {
    if (this.jobs.delete(id) && this.jobs.size === 0) this.worker?.unref();
  }

  private spawn(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(SOURCE, { eval: true, execArgv: [], stdout: false, stderr: false, resourceLimits: { maxOldGenerationSizeMb: 32 } });
    w.on('message', (m: WorkerMessage) => this.jobs.get(m.id)?.onMessage(m));
    const fail = (err: Error) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      const jobs = [...this.jobs.values()];
      this.jobs.clear();
      for (const j of jobs) j.fail(err);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the hash worker stopped (exit code ${code})`)));
    w.unref();
    this.worker = w;
    return w;
  }
}

const thread = new HashThread();

class RemoteHash {
  private readonly id: number;
  private free: ArrayBuffer[] = [];
  private made = 0;
  private slab: Uint8Array | undefined;
  private used = 0;
  private space: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private digest: { resolve: (hex: string) => void; reject: (err: Error) => void } | undefined;
  private error: Error | undefined;

  constructor() {
    this.id = thread.attach(this);
  }

  onMessage(m: WorkerMessage): void {
    if (m.op === 'read') {
      this.free.push(m.buf!);
      const s = this.space;
      this.space = undefined;
      s?.resolve();
    } else {
      thread.detach(this.id);
      this.digest?.resolve(m.hex!);
    }
  }

  fail(err: Error): void {
    this.error = err;
    this.space?.reject(err);
    this.digest?.reject(err);
  }

  /** A slab to fill, or undefined when all are with the worker. */
  private take(): Uint8Array | undefined {
    if (this.slab) return this.slab;
    const buf = this.free.pop() ?? (this.made < SLABS ? (this.made++, new ArrayBuffer(SLAB)) : undefined);
    if (!buf) return undefined;
    this.used = 0;
    return (this.slab = new Uint8Array(buf));
  }

  private send(): void {
    const slab = this.slab;
    if (!slab || !this.used) return;
    this.slab = undefined;
    thread.post({ op: 'data', id: this.id, buf: slab.buffer as ArrayBuffer, len: this.used }, [slab.buffer as ArrayBuffer]);
  }

  /** Copy as much of `b` as the free slabs take; returns how many bytes were taken. */
  private fill(b: Uint8Array): number {
    let at = 0;
    while (at < b.length) {
      const slab = this.take();
      if (!slab) break;
      const n = Math.min(b.length - at, SLAB - this.used);
      slab.set(at === 0 && n === b.length ? b : b.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
      if (this.used === SLAB) this.send();
    }
    return at;
  }

  /** Undefined when the bytes were taken at once; else wait for the promise before the next call. */
  update(b: Uint8Array): Promise<void> | undefined {
    if (this.error) return Promise.reject(this.error);
    const n = this.fill(b);
    if (n === b.length) return undefined;
    return (async () => {
      for (let at = n; at < b.length; ) {
        await new Promise<void>((resolve, reject) => {
          if (this.error) return reject(this.error);
          this.space = { resolve, reject };
        });
        at += this.fill(b.subarray(at));
      }
    })();
  }

  hex(): Promise<string> {
    if (this.error) return Promise.reject(this.error);
    this.send();
    return new Promise((resolve, reject) => {
      this.digest = { resolve, reject };
      thread.post({ op: 'end', id: this.id });
    });
  }

  abort(): void {
    thread.post({ op: 'abort', id: this.id });
    thread.detach(this.id);
  }
}

/**
 * SHA-256 of a stream's bytes, fed in order. update() may ask the caller to wait (all its
 * buffers are with the worker); digest() resolves to the hex digest. Call abort() if the stream is abandoned.
 */
export class PlaintextHash {
  private early: Uint8Array[] = [];
  private earlyBytes = 0;
  private remote: RemoteHash | undefined;
  private done = false;

  update(b: Uint8Array): Promise<void> | undefined {
    if (!b.length) return undefined;
    if (this.remote) return this.remote.update(b);
    this.early.push(b);
    this.earlyBytes += b.length;
    if (this.earlyBytes < LOCAL_BELOW) return undefined;
    // Large enough to be worth a second thread: hand over what was kept back, in order.
    this.remote = new RemoteHash();
    const early = this.early;
    this.early = [];
    let chain: Promise<void> | undefined;
    for (const e of early) {
      const r = this.remote;
      chain = chain ? chain.then(() => r.update(e)) : r.update(e);
    }
    return chain;
  }

  digest(): Promise<string> {
    this.done = true;
    if (this.remote) return this.remote.hex();
    const h = createHash('sha256');
    for (const e of this.early) h.update(e);
    this.early = [];
    return Promise.resolve(h.digest('hex'));
  }

  abort(): void {
    this.early = [];
    if (this.remote && !this.done) this.remote.abort();
    this.done = true;
  }
}
