// The storage crypto thread (started by pipeline.ts): AES-256-GCM of whole slabs of chunks, or
// SHA-256 of slabs, over shared memory. Plain JavaScript (no TypeScript loader in workers).
// Each job sends its SharedArrayBuffer once ('start'); then every message names a slab by offset
// and is answered, in order, with one reply. Keys live here only while their job runs.
import { parentPort } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openFrames, sealFrames } from './frames.js';

// A young-generation GC after every slab sealed or opened (issue 17). Each chunk's cipher output
// is a fresh, zero-filled 64 KiB allocation, dead once copied into the slab. Left alone, V8 frees
// them only at the major GC that each ~64 MiB of such external memory starts, so this thread's
// malloc arena grows by tens of MiB and is trimmed again after every GC: almost every chunk is
// written into memory the kernel must fault in and zero, and on this VM memory handed back is
// slow to touch again (docs/performance.md, Files). perf of a download: 60% of the AES thread in
// calloc's memset and page faults, 17% in AES. A scavenge after each slab (about 0.1 ms on this
// thread's small heap) frees the 16 outputs while they are in the cache, and the next slab reuses
// the same memory: the AES thread's CPU per GiB fell by half or more. There is no Node API that
// decrypts into a given buffer, and worker execArgv refuses V8 flags, hence the flag, set and
// unset at once (it only decides whether contexts created meanwhile get a global `gc`).
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc');
setFlagsFromString('--no-expose-gc');

const jobs = new Map();

function reply(m) {
  parentPort.postMessage(m);
}

parentPort.on('message', (m) => {
  if (m.op === 'start') {
    jobs.set(m.id, {
      key: m.key ? Buffer.from(m.key) : undefined,
      prefix: m.prefix ? Buffer.from(m.prefix) : undefined,
      bind: m.bind ? Buffer.from(m.bind) : undefined,
      size: m.size,
      mem: Buffer.from(m.sab),
      hash: m.hash ? createHash('sha256') : undefined,
    });
    m.key?.fill(0); // the structured-clone copy; the job keeps its own

    return;
  }
  const job = jobs.get(m.id);
  if (m.op === 'end') {
    job?.key?.fill(0);
    jobs.delete(m.id);
    return;
  }
  if (!job) return reply({ id: m.id, error: 'unknown job', integrity: false });
  try {
    const src = job.mem.subarray(m.src, m.src + m.len);
    if (m.op === 'seal') {
      const len = sealFrames(job.key, job.prefix, job.bind, src, m.first, m.last, job.mem.subarray(m.dst, m.dst + m.cap));
      collect({ type: 'minor' });
      reply({ id: m.id, len });
    } else if (m.op === 'open') {
      const len = openFrames(job.key, job.prefix, job.bind, src, m.first, job.size, job.mem.subarray(m.dst, m.dst + m.cap));
      collect({ type: 'minor' });
      reply({ id: m.id, len });
    } else if (m.op === 'hash') {
      job.hash.update(src);
      reply({ id: m.id, len: m.len });
    } else if (m.op === 'digest') {
      reply({ id: m.id, hex: job.hash.digest('hex') });
    } else {
      reply({ id: m.id, error: `unknown op ${m.op}`, integrity: false });
    }
  } catch (err) {
    reply({ id: m.id, error: err && err.message ? err.message : String(err), integrity: !!err && err.name === 'IntegrityFailure' });
  }
});
