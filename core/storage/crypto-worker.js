// The storage crypto thread (started by pipeline.ts): AES-256-GCM of whole slabs of chunks, or
// SHA-256 of slabs, over shared memory. Plain JavaScript (no TypeScript loader in workers).
// Each job sends its SharedArrayBuffer once ('start'); then every message names a slab by offset
// and is answered, in order, with one reply. Keys live here only while their job runs.
import { parentPort } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { openFrames, sealFrames } from './frames.js';

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
      reply({ id: m.id, len: sealFrames(job.key, job.prefix, job.bind, src, m.first, m.last, job.mem.subarray(m.dst, m.dst + m.cap)) });
    } else if (m.op === 'open') {
      reply({ id: m.id, len: openFrames(job.key, job.prefix, job.bind, src, m.first, job.size, job.mem.subarray(m.dst, m.dst + m.cap)) });
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
