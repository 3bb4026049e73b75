// Signed audit checkpoints, kept off the database (SECURITY.md control 44, CloudTrail-style
// digest files; RFC 9162's signed tree heads in spirit).
//
// The hash chains (core/audit.ts: one per workspace, one firm chain, and the frozen legacy chain
// of rows written before per-workspace chains) show that no row was changed *unless every later
// hash of that chain was recomputed too*: someone who can write to the database can rewrite or
// cut the end of a chain, or drop a whole workspace's chain, and recompute consistent heads. A
// checkpoint pins the chains from outside. A line is
//   { seq, heads: { <chain>: [chain_seq, hash], ... }, time, prev_sig }   (+ "legacy", once)
// signed with Ed25519: `seq` is the highest global seq seen, `heads` the head of every chain
// (workspace id, or "" for the firm chain) that moved since the previous line, so the first line
// names every chain and a quiet workspace costs nothing later; "legacy": [seq, hash] pins the
// legacy chain's frozen head in the first such line if no earlier line did. `time` is UTC epoch
// milliseconds and `prev_sig` the previous line's signature (null for the first), so the lines
// chain too. All heads of a line are read in one snapshot (one transaction; repeatable read on
// PostgreSQL). Lines written before per-workspace chains have the old shape
//   {"seq":12,"head":"<64 hex>","time":1764300000000,"prev_sig":null,"sig":"<base64>"}
// (the legacy chain's hash at seq) and still verify. Each line is appended, with fsync, to
// `<dataDir>/audit-checkpoints.jsonl` (or `audit.checkpointFile`). The signature covers the UTF-8
// bytes of the line without "sig": JSON.stringify of the other fields in the order above, no
// spaces. The signing key is `<dataDir>/audit.key` (PKCS#8 PEM, mode 0600, generated on first
// use); its public key `audit.pub` (SPKI PEM) is written beside the checkpoint file, so an auditor
// can verify (also with openssl) without the private key. Copy both off the machine: a checkpoint
// an attacker can also rewrite proves little.
//
// `atrium audit:verify` checks every line (signature, prev_sig chain, seq never going back, each
// chain's signed position moving forward) and that the database's hash at each signed position
// is the signed one: batched lookups of (chain, chain_seq), not another walk. A rewritten-and-
// rehashed chain, a cut chain end or a deleted workspace chain then shows.
//
// Written by the kernel's hourly job (one process per period across the installation, via the
// job runner) when a head has moved, and by `atrium audit:checkpoint`. A lock file next to the
// checkpoint file keeps two writers on one host from forking the prev_sig chain.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fsyncPath } from './fsync.ts';
import type { Logger } from 'pino';
import type { AtriumConfig } from './config/schema.ts';
import type { Clock } from './clock.ts';
import { isPostgresClient, type Db } from './db/index.ts';
import { chainName, whose } from './audit.ts';
import type { JobRunner } from './jobs.ts';

/** A chain's signed position: [chain_seq, hash of that row]. */
export type SignedHead = [number, string];

/** A line from before per-workspace chains: the legacy chain's hash at `seq`. */
export interface LegacyCheckpoint {
  seq: number;
  head: string;
  time: number;
  prev_sig: string | null;
  sig: string;
}

/** A line pinning every chain whose head moved since the line before it. */
export interface ChainsCheckpoint {
  seq: number;
  heads: Record<string, SignedHead>;
  /** The legacy chain's frozen head [seq, hash], in the first line that pins it. */
  legacy?: SignedHead;
  time: number;
  prev_sig: string | null;
  sig: string;
}

export type Checkpoint = LegacyCheckpoint | ChainsCheckpoint;
type Unsigned<C> = C extends unknown ? Omit<C, 'sig'> : never;

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

/** The fields that are signed, in their signed order. */
function body(c: Unsigned<Checkpoint>): Unsigned<Checkpoint> {
  if ('heads' in c) return c.legacy ? { seq: c.seq, heads: c.heads, legacy: c.legacy, time: c.time, prev_sig: c.prev_sig } : { seq: c.seq, heads: c.heads, time: c.time, prev_sig: c.prev_sig };
  return { seq: c.seq, head: c.head, time: c.time, prev_sig: c.prev_sig };
}

/** The exact bytes that are signed: the line without "sig". */
export function signedText(c: Unsigned<Checkpoint>): string {
  return JSON.stringify(body(c));
}

export function signCheckpoint(key: KeyObject, c: Unsigned<Checkpoint>): Checkpoint {
  const b = body(c);
  return { ...b, sig: sign(null, Buffer.from(JSON.stringify(b), 'utf8'), key).toString('base64') } as Checkpoint;
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
  const chains = keys === 'heads,prev_sig,seq,sig,time' || keys === 'heads,legacy,prev_sig,seq,sig,time';
  if (!chains && keys !== 'head,prev_sig,seq,sig,time') return `it has the fields ${keys}, not seq, heads, time, prev_sig and sig (or seq, head, time, prev_sig and sig)`;
  if (!Number.isSafeInteger(c.seq) || (c.seq as number) < 1) return 'its seq is not a positive integer';
  const position = (v: unknown) => Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && (v[0] as number) >= 1 && typeof v[1] === 'string' && HEX64.test(v[1]);
  if (!chains && (typeof c.head !== 'string' || !HEX64.test(c.head))) return 'its head is not a SHA-256 in hex';
  if (chains) {
    if (typeof c.heads !== 'object' || c.heads === null || Array.isArray(c.heads)) return 'its heads are not an object of chains';
    for (const [chain, v] of Object.entries(c.heads)) if (!position(v)) return `its head of ${chainName(chain)} is not [chain_seq, SHA-256 in hex]`;
    if ('legacy' in c && !position(c.legacy)) return 'its legacy head is not [seq, SHA-256 in hex]';
  }
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


/** The database's legacy-chain hash at each of `seqs` (rows that do not exist are absent). */
async function hashesAt(db: Db, seqs: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (let i = 0; i < seqs.length; i += 500) {
    const rows = (await db('audit_events').whereIn('seq', seqs.slice(i, i + 500)).whereNull('chain_seq').select('seq', 'hash')) as Array<{ seq: unknown; hash: string }>;
    for (const r of rows) out.set(Number(r.seq), r.hash);
  }
  return out;
}

const at = (chain: string, chainSeq: number) => `${chain}\n${chainSeq}`;

/** The row at each (chain, chain_seq) position, keyed by at(): its hash and global seq. */
async function rowsAt(db: Db, positions: Array<[string, number]>): Promise<Map<string, { hash: string; seq: number }>> {
  const out = new Map<string, { hash: string; seq: number }>();
  const unique = [...new Map(positions.map((p) => [at(...p), p])).values()];
  for (let i = 0; i < unique.length; i += 400) {
    const byChain = new Map<string, number[]>();
    for (const [chain, cs] of unique.slice(i, i + 400)) byChain.set(chain, [...(byChain.get(chain) ?? []), cs]);
    const rows = (await db('audit_events')
      .where((w) => {
        for (const [chain, seqs] of byChain) w.orWhere((b) => (chain === '' ? b.whereNull('workspace_id') : b.where('workspace_id', chain)).whereIn('chain_seq', seqs));
      })
      .select('workspace_id', 'chain_seq', 'seq', 'hash')) as Array<{ workspace_id: string | null; chain_seq: unknown; seq: unknown; hash: string }>;
    for (const r of rows) out.set(at(r.workspace_id ?? '', Number(r.chain_seq)), { hash: r.hash, seq: Number(r.seq) });
  }
  return out;
}

/** The heads of every chain, the legacy head and the highest seq, from one snapshot. */
interface HeadsSnapshot {
  seq: number;
  legacy: { seq: number; hash: string };
  chains: Map<string, SignedHead>;
}

async function readHeads(db: Db): Promise<HeadsSnapshot> {
  const read = async (trx: Db): Promise<HeadsSnapshot> => {
    const legacy = (await trx('audit_head').where({ id: 1 }).first('seq', 'hash')) as { seq: unknown; hash: string } | undefined;
    const rows = (await trx('audit_heads').where('seq', '>', 0).orderBy('chain').select('chain', 'seq', 'hash')) as Array<{ chain: string; seq: unknown; hash: string }>;
    const max = (await trx('audit_events').max({ m: 'seq' }).first()) as { m: unknown } | undefined;
    return {
      seq: Number(max?.m ?? 0),
      legacy: { seq: Number(legacy?.seq ?? 0), hash: legacy?.hash ?? '' },
      chains: new Map(rows.map((r) => [r.chain, [Number(r.seq), r.hash] as SignedHead])),
    };
  };
  // Repeatable read: every head of the line from the same moment, whatever commits meanwhile.
  return isPostgresClient(db) ? db.transaction((trx) => read(trx as unknown as Db), { isolationLevel: 'repeatable read' }) : db.transaction((trx) => read(trx as unknown as Db));
}

/** What a checkpoint file has signed so far: the newest position of each chain, with its line. */
interface Signed {
  legacy: { seq: number; hash: string; line: number } | null;
  chains: Map<string, { chainSeq: number; hash: string; line: number }>;
}

function fold(state: Signed, c: Checkpoint, line: number): void {
  if ('head' in c) state.legacy = { seq: c.seq, hash: c.head, line };
  else {
    if (c.legacy) state.legacy = { seq: c.legacy[0], hash: c.legacy[1], line };
    for (const [chain, [chainSeq, hash]] of Object.entries(c.heads)) state.chains.set(chain, { chainSeq, hash, line });
  }
}

/**
 * Append a checkpoint of every chain head that moved since the last one, if any did. Refuses
 * (throws CheckpointError) when the log no longer agrees with what the file has signed (a chain
 * rewritten, cut back or gone), when a head does not match its row, when a line is unreadable or
 * the last one is not signed by our key, or when audit.pub beside the file is another key:
 * signing on top of evidence of tampering would bury it.
 */
export async function writeCheckpoint(db: Db, config: Paths, clock: Clock): Promise<WriteResult> {
  const file = checkpointFile(config);
  const empty = (h: HeadsSnapshot) => h.chains.size === 0 && h.legacy.seq === 0;
  if (empty(await readHeads(db))) return { written: false, reason: 'empty', seq: 0, file }; // no lock, no files
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  return withLock(file, async () => {
    // The heads are read under the lock: a writer that got the lock later sees heads at least as
    // new as the ones the writer before it signed (heads only move forward).
    const heads = await readHeads(db);
    if (empty(heads)) return { written: false, reason: 'empty', seq: 0, file };
    const key = loadSigningKey(config);
    const pub = publicKeyPem(key);
    const pubFile = publicKeyFileFor(file);
    const existingPub = await readFile(pubFile, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
    if (existingPub !== null && existingPub.trim() !== pub.trim()) {
      throw new CheckpointError(`${pubFile} is not the public key of ${auditKeyFile(config)}: if the signing key was replaced on purpose, move ${file} and ${pubFile} aside (keep them) to start a new checkpoint file`);
    }
    // What the file has signed: each chain's newest signed position (a chain quiet for months was
    // signed in an old line), so every line is read; only the last one's signature is checked
    // here, `atrium audit:verify` checks them all.
    const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
    const signed: Signed = { legacy: null, chains: new Map() };
    let prev: Checkpoint | null = null;
    if (text !== null && text.trim() !== '') {
      const lines = text.split('\n');
      const complete = lines.at(-1) === '';
      if (complete) lines.pop();
      for (let i = 0; i < lines.length; i++) {
        if (lines[i]!.trim() === '') continue;
        const last = i === lines.length - 1;
        const parsed = last && !complete ? 'it is incomplete (no newline: a partial write)' : parseLine(lines[i]!);
        if (typeof parsed === 'string') throw new CheckpointError(`${last ? 'the last line' : `line ${i + 1}`} of ${file} is unreadable: ${parsed}`);
        if (last && !verifySig(createPublicKey(key), parsed)) throw new CheckpointError(`the last line of ${file} (seq ${parsed.seq}) is not signed by ${auditKeyFile(config)}`);
        fold(signed, parsed, i + 1);
        prev = parsed;
      }
    }
    const existed = text !== null;
    // Everything signed must still be in the log, and every head must name its own last row.
    const moved: Array<[string, SignedHead]> = [...heads.chains].filter(([chain, [cs, hash]]) => {
      const s = signed.chains.get(chain);
      return !s || s.chainSeq !== cs || s.hash !== hash;
    });
    const found = await rowsAt(db, [...[...signed.chains].map(([chain, s]): [string, number] => [chain, s.chainSeq]), ...moved.map(([chain, [cs]]): [string, number] => [chain, cs])]);
    const restored = `; run \`atrium audit:verify\`. If a backup was restored on purpose, move ${file} aside (keep it) to start a new checkpoint file`;
    const signedAt = (line: number) => `checkpoint line ${line}`;
    if (signed.legacy) {
      const l = signed.legacy;
      const hash = l.seq <= heads.legacy.seq ? (await hashesAt(db, [l.seq])).get(l.seq) : undefined;
      if (hash !== l.hash) throw new CheckpointError(`the audit log no longer matches ${signedAt(l.line)} (legacy chain, seq ${l.seq}): ` + (l.seq > heads.legacy.seq ? `the legacy chain now ends at seq ${heads.legacy.seq}` : `the hash at seq ${l.seq} differs`) + restored);
    }
    for (const [chain, s] of signed.chains) {
      const head = heads.chains.get(chain);
      const who = whose(chain);
      if (!head || head[0] < s.chainSeq) throw new CheckpointError(`the audit log no longer matches ${signedAt(s.line)}: ${chainName(chain)} ${head ? `now ends at its row ${head[0]}` : 'is gone'}, but its row ${s.chainSeq} was signed` + restored);
      if (found.get(at(chain, s.chainSeq))?.hash !== s.hash) throw new CheckpointError(`the audit log no longer matches ${signedAt(s.line)}: ${who} row ${s.chainSeq} differs from the signed hash` + restored);
    }
    for (const [chain, [cs, hash]] of moved) {
      if (found.get(at(chain, cs))?.hash !== hash) throw new CheckpointError(`${whose(chain)} audit head (its row ${cs}) does not match row ${cs} of its chain in the log; run \`atrium audit:verify\``);
    }
    let legacy: SignedHead | undefined;
    if (heads.legacy.seq > 0 && (!signed.legacy || signed.legacy.seq !== heads.legacy.seq)) {
      if ((await hashesAt(db, [heads.legacy.seq])).get(heads.legacy.seq) !== heads.legacy.hash) {
        throw new CheckpointError(`the legacy audit head (seq ${heads.legacy.seq}) does not match row ${heads.legacy.seq} of the log; run \`atrium audit:verify\``);
      }
      legacy = [heads.legacy.seq, heads.legacy.hash];
    }
    if (!moved.length && !legacy) return { written: false, reason: 'unchanged', seq: heads.seq, file };
    const p = prev as Checkpoint | null;
    // seq is the highest seq in the snapshot; it never goes back (a row of another chain that
    // drew a lower seq may commit after a line was written, so it may stay the same).
    const checkpoint = signCheckpoint(key, { seq: Math.max(heads.seq, p?.seq ?? 0), heads: Object.fromEntries(moved), ...(legacy ? { legacy } : {}), time: clock.now(), prev_sig: p?.sig ?? null });
    if (existingPub === null) {
      const fh = await open(pubFile, 'w', 0o644);
      try {
        await fh.writeFile(pub);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    const fh = await open(file, 'a', 0o644);
    try {
      await fh.write(`${JSON.stringify(checkpoint)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (!existed || existingPub === null) await fsyncPath(dirname(file));
    return { written: true, checkpoint, file, publicKeyFile: pubFile };
  });
}

/** The highest chain_seq (and its seq) a chain has in the log, for a failure's message. */
async function chainEnd(db: Db, chain: string): Promise<number> {
  const q = db('audit_events').whereNotNull('chain_seq');
  const r = (await (chain === '' ? q.whereNull('workspace_id') : q.where('workspace_id', chain)).max({ m: 'chain_seq' }).first()) as { m: unknown } | undefined;
  return Number(r?.m ?? 0);
}

/**
 * Check every checkpoint in `file` against `publicKey` and the database: each line's signature,
 * that it names the line before it (prev_sig; the first names none), that seq never goes back
 * (old-shape lines: increases) and each chain's signed position moves forward, and that the
 * database's hash at each signed position is the signed one. Reports the first failure (lowest
 * line).
 */
export async function verifyCheckpoints(db: Db, file: string, publicKey: KeyObject): Promise<CheckpointResult> {
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const good: Array<{ c: Checkpoint; line: number }> = [];
  let fileFailure: Extract<CheckpointResult, { ok: false }> | null = null;
  let prev: Checkpoint | null = null;
  const signed: Signed = { legacy: null, chains: new Map() };
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
    const cutBack = (what: string) => ({ ok: false as const, seq: parsed.seq, line: n, reason: `checkpoint line ${n} (seq ${parsed.seq}) ${what}: the log was cut back and re-signed`, count: 0 });
    if (prev && ('head' in parsed ? parsed.seq <= prev.seq : parsed.seq < prev.seq)) {
      fileFailure = cutBack(`does not move past line ${n - 1} (seq ${prev.seq})`);
      break;
    }
    if ('heads' in parsed) {
      const back = Object.entries(parsed.heads).find(([chain, [cs]]) => (signed.chains.get(chain)?.chainSeq ?? 0) >= cs);
      if (back) {
        const before = signed.chains.get(back[0])!;
        fileFailure = cutBack(`signs ${whose(back[0])} row ${back[1][0]}, not past its row ${before.chainSeq} signed by line ${before.line}`);
        break;
      }
      if (parsed.legacy && signed.legacy && parsed.legacy[0] < signed.legacy.seq) {
        fileFailure = cutBack(`signs the legacy chain at seq ${parsed.legacy[0]}, before seq ${signed.legacy.seq} signed by line ${signed.legacy.line}`);
        break;
      }
    }
    fold(signed, parsed, n);
    good.push({ c: parsed, line: n });
    prev = parsed;
  }

  // Two batched lookups: the legacy chain by seq, every signed chain position by (chain, chain_seq).
  const legacySeqs: number[] = [];
  const positions: Array<[string, number]> = [];
  for (const { c } of good) {
    if ('head' in c) legacySeqs.push(c.seq);
    else {
      if (c.legacy) legacySeqs.push(c.legacy[0]);
      for (const [chain, [cs]] of Object.entries(c.heads)) positions.push([chain, cs]);
    }
  }
  const hashes = await hashesAt(db, [...new Set(legacySeqs)]);
  const rows = await rowsAt(db, positions);
  let lastLegacyOk = 0;
  const lastOk = new Map<string, number>(); // chain -> its newest chain_seq that matched
  for (const [k, { c, line }] of good.entries()) {
    const when = new Date(c.time).toISOString();
    const legacy: SignedHead | undefined = 'head' in c ? [c.seq, c.head] : c.legacy;
    if (legacy) {
      const [seq, head] = legacy;
      const h = hashes.get(seq);
      if (h === undefined) {
        const max = Number(((await db('audit_events').whereNull('chain_seq').max({ m: 'seq' }).first()) as { m: unknown } | undefined)?.m ?? 0);
        if (max < seq) {
          return { ok: false, seq: max + 1, line, reason: `the log ends at seq ${max} but checkpoint line ${line} signed seq ${seq} at ${when}: rows ${max + 1}-${seq} were removed (or an older backup was restored)`, count: k };
        }
        return { ok: false, seq, line, reason: `row ${seq}, signed by checkpoint line ${line} at ${when}, is missing: it was deleted or renumbered`, count: k };
      }
      if (h !== head) {
        return { ok: false, seq, line, reason: `the chain hash at seq ${seq} differs from checkpoint line ${line} signed at ${when}: rows ${lastLegacyOk + 1}-${seq} were rewritten (hashes recomputed) after they were checkpointed`, count: k };
      }
      lastLegacyOk = seq;
    }
    if ('head' in c) continue;
    for (const [chain, [cs, hash]] of Object.entries(c.heads)) {
      const row = rows.get(at(chain, cs));
      const who = whose(chain);
      if (row?.hash === hash) {
        lastOk.set(chain, cs);
        continue;
      }
      if (!row) {
        const end = await chainEnd(db, chain);
        if (end === 0) return { ok: false, seq: c.seq, line, reason: `${chainName(chain)} has no rows, but checkpoint line ${line} signed its row ${cs} at ${when}: the whole chain was deleted (or an older backup was restored)`, count: k };
        if (end < cs) return { ok: false, seq: c.seq, line, reason: `${chainName(chain)} ends at its row ${end}, but checkpoint line ${line} signed its row ${cs} at ${when}: rows ${end + 1}-${cs} were removed (or an older backup was restored)`, count: k };
        return { ok: false, seq: c.seq, line, reason: `${who} row ${cs}, signed by checkpoint line ${line} at ${when}, is missing: it was deleted or renumbered`, count: k };
      }
      return {
        ok: false,
        seq: row.seq,
        line,
        reason: `${who} hash at its row ${cs} (seq ${row.seq}) differs from checkpoint line ${line} signed at ${when}: its rows ${(lastOk.get(chain) ?? 0) + 1}-${cs} were rewritten (hashes recomputed) after they were checkpointed`,
        count: k,
      };
    }
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
