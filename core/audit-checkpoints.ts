// Signed audit checkpoints, kept off the database (SECURITY.md control 44, CloudTrail-style
// digest files; RFC 9162's signed tree heads in spirit).
//
// The hash chain (core/audit.ts) shows that no row was changed *unless every later hash was
// recomputed too*: someone who can write to the database can rewrite or cut the end of the log
// and recompute a consistent chain. A checkpoint pins the chain from outside: it is
//   { seq, head, time, prev_sig } signed with Ed25519,
// where `head` is the chain hash of row `seq`, `time` is UTC epoch milliseconds and `prev_sig`
// the previous checkpoint's signature (null for the first), so the checkpoints chain too. Each
// is appended as one JSON line, with fsync, to `<dataDir>/audit-checkpoints.jsonl` (or
// `audit.checkpointFile`):
//   {"seq":12,"head":"<64 hex>","time":1764300000000,"prev_sig":null,"sig":"<base64>"}
// The signature covers the UTF-8 bytes of JSON.stringify({seq, head, time, prev_sig}): the line
// without "sig", keys in that order, no spaces. The signing key is `<dataDir>/audit.key`
// (PKCS#8 PEM, mode 0600, generated on first use); its public key `audit.pub` (SPKI PEM) is
// written beside the checkpoint file, so an auditor can verify (also with openssl) without the
// private key. Copy both off the machine: a checkpoint an attacker can also rewrite proves little.
//
// `atrium audit:verify` checks every line (signature, prev_sig chain, seq increasing) and that
// the database's chain hash at each checkpoint's seq is the signed head: one primary-key lookup
// per checkpoint, not another walk. A rewritten-and-rehashed chain or a cut end then shows.
//
// Written by the kernel's hourly job (one process per period across the installation, via the
// job runner) when the head has moved, and by `atrium audit:checkpoint`. A lock file next to the
// checkpoint file keeps two writers on one host from forking the prev_sig chain.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fsyncPath } from './fsync.ts';
import type { Logger } from 'pino';
import type { AtriumConfig } from './config/schema.ts';
import type { Clock } from './clock.ts';
import type { Db } from './db/index.ts';
import type { JobRunner } from './jobs.ts';

export interface Checkpoint {
  seq: number;
  head: string;
  time: number;
  prev_sig: string | null;
  sig: string;
}

export type CheckpointResult =
  | { ok: true; count: number; last: { seq: number; time: number } | null }
  | { ok: false; seq: number; line: number; reason: string; count: number };

export type WriteResult = { written: true; checkpoint: Checkpoint; file: string; publicKeyFile: string } | { written: false; reason: 'empty' | 'unchanged'; seq: number; file: string };

/** A checkpoint could not be written (the log or the file no longer agree, a key mismatch...). */
export class CheckpointError extends Error {}

type Paths = Pick<AtriumConfig, 'dataDir'> & { audit?: AtriumConfig['audit'] };

export const JOB_NAME = 'core.audit-checkpoint';
export const JOB_PERIOD_MS = 60 * 60_000;

export function auditKeyFile(config: Pick<AtriumConfig, 'dataDir'>): string {
  return join(config.dataDir, 'audit.key');
}

export function checkpointFile(config: Paths): string {
  const f = config.audit?.checkpointFile ?? '';
  return f ? resolve(config.dataDir, f) : join(config.dataDir, 'audit-checkpoints.jsonl');
}

/** The public key is kept beside the checkpoint file it verifies. */
export function publicKeyFileFor(checkpoints: string): string {
  return join(dirname(checkpoints), 'audit.pub');
}

/** The exact bytes that are signed. */
export function signedText(c: Pick<Checkpoint, 'seq' | 'head' | 'time' | 'prev_sig'>): string {
  return JSON.stringify({ seq: c.seq, head: c.head, time: c.time, prev_sig: c.prev_sig });
}

export function signCheckpoint(key: KeyObject, c: Omit<Checkpoint, 'sig'>): Checkpoint {
  const body = { seq: c.seq, head: c.head, time: c.time, prev_sig: c.prev_sig };
  return { ...body, sig: sign(null, Buffer.from(signedText(body), 'utf8'), key).toString('base64') };
}

/** The signing key, generated into `<dataDir>/audit.key` (0600) on first use, like storage.keys. */
export function loadSigningKey(config: Pick<AtriumConfig, 'dataDir'>): KeyObject {
  const file = auditKeyFile(config);
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    try {
      // `wx`: a second process racing us fails here and reads the winner's key below.
      const fd = openSync(file, 'wx', 0o600);
      try {
        const { privateKey } = generateKeyPairSync('ed25519');
        writeSync(fd, `# Atrium audit checkpoint signing key (Ed25519). Never copy it off this machine; copy audit.pub.\n${privateKey.export({ type: 'pkcs8', format: 'pem' }) as string}`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      chmodSync(file, 0o600);
      const dir = openSync(config.dataDir, 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    pem = readFileSync(file, 'utf8');
  }
  const key = createPrivateKey(pem.slice(pem.indexOf('-----BEGIN')));
  if (key.asymmetricKeyType !== 'ed25519') throw new CheckpointError(`${file} is not an Ed25519 private key`);
  return key;
}

export function publicKeyPem(key: KeyObject): string {
  return createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string;
}

export function parsePublicKey(pem: string, where: string): KeyObject {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key');
    return key;
  } catch (err) {
    throw new CheckpointError(`${where} is not an Ed25519 public key (PEM): ${(err as Error).message}`);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** One line of the file, checked for shape; a string says what is wrong with it. */
function parseLine(text: string): Checkpoint | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'it is not JSON (a partial write, or edited)';
  }
  const c = v as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'it is not a checkpoint object';
  const keys = Object.keys(c).sort().join(',');
  if (keys !== 'head,prev_sig,seq,sig,time') return `it has the fields ${keys}, not seq, head, time, prev_sig and sig`;
  if (!Number.isSafeInteger(c.seq) || (c.seq as number) < 1) return 'its seq is not a positive integer';
  if (typeof c.head !== 'string' || !HEX64.test(c.head)) return 'its head is not a SHA-256 in hex';
  if (!Number.isSafeInteger(c.time)) return 'its time is not epoch milliseconds';
  if (c.prev_sig !== null && (typeof c.prev_sig !== 'string' || !B64.test(c.prev_sig))) return 'its prev_sig is neither null nor base64';
  if (typeof c.sig !== 'string' || !B64.test(c.sig)) return 'its sig is not base64';
  return c as unknown as Checkpoint;
}

function verifySig(key: KeyObject, c: Checkpoint): boolean {
  try {
    return verify(null, Buffer.from(signedText(c), 'utf8'), key, Buffer.from(c.sig, 'base64'));
  } catch {
    return false;
  }
}

/** The last line of the file (read from its tail), or null if there is none. */
async function lastLine(file: string): Promise<{ text: string; complete: boolean } | null> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const { size } = await fh.stat();
    if (size === 0) return null;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const text = buf.toString('utf8');
    const complete = text.endsWith('\n');
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    return lines.length ? { text: lines.at(-1)!, complete } : null;
  } finally {
    await fh.close();
  }
}

async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const fh = await open(lock, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A writer that died holding the lock: writing one line takes milliseconds.
      const st = await stat(lock).catch(() => null);
      if (st && Date.now() - st.mtimeMs > 30_000) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new CheckpointError(`${lock} is held by another writer; remove it if no Atrium process is writing a checkpoint`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}


/** The database's chain hash at each of `seqs` (rows that do not exist are absent). */
async function hashesAt(db: Db, seqs: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (let i = 0; i < seqs.length; i += 500) {
    const rows = (await db('audit_events').whereIn('seq', seqs.slice(i, i + 500)).select('seq', 'hash')) as Array<{ seq: unknown; hash: string }>;
    for (const r of rows) out.set(Number(r.seq), r.hash);
  }
  return out;
}

/**
 * Append a checkpoint of the current head, if it moved since the last one. Refuses (throws
 * CheckpointError) when the log no longer agrees with the last checkpoint, when the last line is
 * unreadable or not signed by our key, or when audit.pub beside the file is another key: signing
 * on top of evidence of tampering would bury it.
 */
export async function writeCheckpoint(db: Db, config: Paths, clock: Clock): Promise<WriteResult> {
  const file = checkpointFile(config);
  const readHead = async () => (await db('audit_head').where({ id: 1 }).first('seq', 'hash')) as { seq: unknown; hash: string } | undefined;
  if (Number((await readHead())?.seq ?? 0) === 0) return { written: false, reason: 'empty', seq: 0, file }; // no lock, no files
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  return withLock(file, async () => {
    // The head is read under the lock: a writer that got the lock later sees a head at least as
    // new as the one the writer before it signed (heads only move forward).
    const head = await readHead();
    const seq = Number(head?.seq ?? 0);
    if (!head || seq === 0) return { written: false, reason: 'empty', seq: 0, file };
    const row = (await db('audit_events').where({ seq }).first('hash')) as { hash: string } | undefined;
    if (row?.hash !== head.hash) throw new CheckpointError(`the audit head (seq ${seq}) does not match row ${seq} of the log; run \`atrium audit:verify\``);
    const key = loadSigningKey(config);
    const pub = publicKeyPem(key);
    const pubFile = publicKeyFileFor(file);
    const existingPub = await readFile(pubFile, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
    if (existingPub !== null && existingPub.trim() !== pub.trim()) {
      throw new CheckpointError(`${pubFile} is not the public key of ${auditKeyFile(config)}: if the signing key was replaced on purpose, move ${file} and ${pubFile} aside (keep them) to start a new checkpoint file`);
    }
    const last = await lastLine(file);
    let prev: Checkpoint | null = null;
    if (last) {
      const parsed = last.complete ? parseLine(last.text) : 'it is incomplete (no newline: a partial write)';
      if (typeof parsed === 'string') throw new CheckpointError(`the last line of ${file} is unreadable: ${parsed}`);
      if (!verifySig(createPublicKey(key), parsed)) throw new CheckpointError(`the last line of ${file} (seq ${parsed.seq}) is not signed by ${auditKeyFile(config)}`);
      prev = parsed;
      if (prev.seq === seq && prev.head === head.hash) return { written: false, reason: 'unchanged', seq, file };
      const at = prev.seq <= seq ? (await hashesAt(db, [prev.seq])).get(prev.seq) : undefined;
      if (at !== prev.head) {
        throw new CheckpointError(
          `the audit log no longer matches its last checkpoint (seq ${prev.seq}, ${new Date(prev.time).toISOString()}): ` +
            (prev.seq > seq ? `the log now ends at seq ${seq}` : `the hash at seq ${prev.seq} differs`) +
            `; run \`atrium audit:verify\`. If a backup was restored on purpose, move ${file} aside (keep it) to start a new checkpoint file`,
        );
      }
    }
    const checkpoint = signCheckpoint(key, { seq, head: head.hash, time: clock.now(), prev_sig: prev?.sig ?? null });
    if (existingPub === null) {
      const fh = await open(pubFile, 'w', 0o644);
      try {
        await fh.writeFile(pub);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    const created = last === null && !(await stat(file).catch(() => null));
    const fh = await open(file, 'a', 0o644);
    try {
      await fh.write(`${JSON.stringify(checkpoint)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (created || existingPub === null) await fsyncPath(dirname(file));
    return { written: true, checkpoint, file, publicKeyFile: pubFile };
  });
}

/**
 * Check every checkpoint in `file` against `publicKey` and the database: each line's signature,
 * that it names the line before it (prev_sig; the first names none), that seq increases, and that
 * the database's hash at its seq is its head. Reports the first failure (lowest seq).
 */
export async function verifyCheckpoints(db: Db, file: string, publicKey: KeyObject): Promise<CheckpointResult> {
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const good: Array<{ c: Checkpoint; line: number }> = [];
  let fileFailure: Extract<CheckpointResult, { ok: false }> | null = null;
  let prev: Checkpoint | null = null;
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const parsed = parseLine(lines[i]!);
    if (typeof parsed === 'string') {
      fileFailure = { ok: false, seq: prev ? prev.seq + 1 : 1, line: n, reason: `checkpoint line ${n} is unreadable: ${parsed}`, count: 0 };
      break;
    }
    if (!verifySig(publicKey, parsed)) {
      fileFailure = { ok: false, seq: parsed.seq, line: n, reason: `checkpoint line ${n} (seq ${parsed.seq}) has a bad signature: it was forged or altered`, count: 0 };
      break;
    }
    if (parsed.prev_sig !== (prev?.sig ?? null)) {
      const reason = prev
        ? `checkpoint line ${n} (seq ${parsed.seq}) does not follow line ${n - 1}: a checkpoint was removed, inserted or reordered`
        : `checkpoint line 1 (seq ${parsed.seq}) continues an earlier checkpoint: lines were removed from the start of the file`;
      fileFailure = { ok: false, seq: parsed.seq, line: n, reason, count: 0 };
      break;
    }
    if (prev && parsed.seq <= prev.seq) {
      fileFailure = { ok: false, seq: parsed.seq, line: n, reason: `checkpoint line ${n} (seq ${parsed.seq}) does not move past line ${n - 1} (seq ${prev.seq}): the log was cut back and re-signed`, count: 0 };
      break;
    }
    good.push({ c: parsed, line: n });
    prev = parsed;
  }

  const hashes = await hashesAt(db, good.map((g) => g.c.seq));
  let lastOk: Checkpoint | null = null;
  for (const [k, { c, line }] of good.entries()) {
    const h = hashes.get(c.seq);
    if (h === c.head) {
      lastOk = c;
      continue;
    }
    const when = new Date(c.time).toISOString();
    if (h === undefined) {
      const max = Number(((await db('audit_events').max({ m: 'seq' }).first()) as { m: unknown } | undefined)?.m ?? 0);
      if (max < c.seq) {
        return { ok: false, seq: max + 1, line, reason: `the log ends at seq ${max} but checkpoint line ${line} signed seq ${c.seq} at ${when}: rows ${max + 1}-${c.seq} were removed (or an older backup was restored)`, count: k };
      }
      return { ok: false, seq: c.seq, line, reason: `row ${c.seq}, signed by checkpoint line ${line} at ${when}, is missing: it was deleted or renumbered`, count: k };
    }
    const from = lastOk ? lastOk.seq + 1 : 1;
    return {
      ok: false,
      seq: c.seq,
      line,
      reason: `the chain hash at seq ${c.seq} differs from checkpoint line ${line} signed at ${when}: rows ${from}-${c.seq} were rewritten (hashes recomputed) after they were checkpointed`,
      count: k,
    };
  }
  if (fileFailure) return { ...fileFailure, count: good.length };
  return { ok: true, count: good.length, last: prev ? { seq: prev.seq, time: prev.time } : null };
}

/**
 * The hourly job: one process per period across the installation writes a checkpoint if the
 * head moved. Runs once at start-up, then every hour; `stop()` waits for a run in progress.
 */
export function startCheckpointJob(s: { db: Db; jobs: JobRunner; clock: Clock; logger: Logger; config: Paths }, periodMs = JOB_PERIOD_MS): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const run = () => {
    running ??= runCheckpointJob(s, periodMs)
      .catch((err) => s.logger.error({ err }, 'audit checkpoint failed'))
      .finally(() => (running = undefined));
  };
  run();
  const timer = setInterval(run, periodMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}

/** One tick of the job (exported for tests): claims the period, then writes if the head moved. */
export async function runCheckpointJob(s: { db: Db; jobs: JobRunner; clock: Clock; logger: Logger; config: Paths }, periodMs = JOB_PERIOD_MS): Promise<{ ran: boolean; result?: WriteResult }> {
  // The claim's period is a little shorter than the timer, so a tick a few ms early still claims.
  const r = await s.jobs.runOnce(JOB_NAME, periodMs - Math.min(60_000, Math.floor(periodMs / 60)), () => writeCheckpoint(s.db, s.config, s.clock));
  if (r.result?.written) s.logger.info({ seq: r.result.checkpoint.seq, file: r.result.file }, 'audit checkpoint written');
  return r;
}
