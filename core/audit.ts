// The audit log: append-only, hash-chained. Each row is written in the same transaction as the
// change it records, so a failed audit write rolls the change back.
//
// One chain per workspace (keyed by the event's workspace_id) and one firm chain for events
// without a workspace (key ''). Each chain's head is a row of audit_heads (chain, seq = the
// chain's own count, hash), locked by an append until the caller commits: writers in one
// workspace serialise, writers in different workspaces do not wait for each other (a single
// head row for the whole installation was the load test's bottleneck). A row's chain_seq is its
// position in its chain, gap-free from 1; seq is global, the primary key and the log's reading
// order, but has gaps on PostgreSQL (a sequence). Because a row is inserted under its chain's
// lock, within one chain seq order is chain_seq order, and verify checks that it is.
//   h = SHA-256(0x00 || canonical(e) || prev), prev = the previous hash in the same chain
//   (GENESIS_HASH for a chain's first row); canonical(e) covers seq and chain_seq.
// Rows written before migration 20261206100000 have chain_seq null: they are the legacy single
// chain (seq 1..N, canonical without chain_seq), whose head audit_head id=1 no longer moves.
//
// `verify` walks every chain in one pass (SECURITY.md 43-44); it is what `atrium audit:verify`
// runs and must stay fast over millions of rows (bench/audit-verify.ts measures it).
// The database itself refuses UPDATE and DELETE of audit_events rows (triggers, migration
// 20261130030000_audit_append_only); signed checkpoints kept off the database
// (core/audit-checkpoints.ts) catch what the chain alone cannot: a rewrite with every hash redone.
import * as crypto from 'node:crypto';
import type { Clock } from './clock.ts';
import { isPostgresClient, type Db, type Trx } from './db/index.ts';
import { newId } from './ids.ts';

export interface AuditEntry {
  action: string; // <plugin>.<subject>.<verb>
  actorId?: string | null;
  workspaceId?: string | null;
  subjectType?: string | null;
  subjectId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditRow {
  seq: number;
  /** Position in the row's chain, from 1; null for a row of the legacy single chain. */
  chain_seq: number | null;
  id: string;
  created_at: number;
  actor_id: string | null;
  workspace_id: string | null;
  action: string;
  subject_type: string | null;
  subject_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: string;
  prev_hash: string;
  hash: string;
}

export type VerifyResult = { ok: true; count: number } | { ok: false; seq: number; reason: string; count: number };

export const GENESIS_HASH = '0'.repeat(64);
/** `<plugin>.<subject>.<verb>`: a kebab-case plugin id, then two identifiers. */
export const AUDIT_ACTION = /^[a-z][a-z0-9-]*\.[a-z][a-zA-Z0-9_]*\.[a-z][a-zA-Z0-9_]*$/;

/** A row's content as hashed; chain_seq null or absent: a legacy row. */
export type AuditContent = Omit<AuditRow, 'hash' | 'prev_hash' | 'chain_seq'> & { chain_seq?: number | null };

/**
 * Canonical encoding: a JSON array in fixed field order (no key-order ambiguity). A chained row
 * starts with its coordinates (seq, chain_seq, workspace_id), so verify's fast path can read its
 * chain from the front of the string; a legacy row keeps the encoding it was hashed with.
 */
export function canonical(r: AuditContent): string {
  if (r.chain_seq === null || r.chain_seq === undefined) {
    return JSON.stringify([r.seq, r.id, r.created_at, r.actor_id, r.workspace_id, r.action, r.subject_type, r.subject_id, r.ip, r.user_agent, r.detail]);
  }
  return JSON.stringify([r.seq, r.chain_seq, r.workspace_id, r.id, r.created_at, r.actor_id, r.action, r.subject_type, r.subject_id, r.ip, r.user_agent, r.detail]);
}

/** The key of a workspace's chain in audit_heads: its id, or '' for the firm chain. */
export function chainKey(workspaceId: string | null | undefined): string {
  return workspaceId ?? '';
}

/** How a message names a chain's row: "workspace <id>'s" or "the firm chain's". */
export function whose(chain: string): string {
  return chain === '' ? "the firm chain's" : `workspace ${chain}'s`;
}

/** How a message names a chain: "workspace <id>'s chain" or "the firm chain". */
export function chainName(chain: string): string {
  return chain === '' ? 'the firm chain' : `workspace ${chain}'s chain`;
}

// '\0' + text encodes to the 0x00 byte followed by the text's UTF-8: the same bytes as hashing
// them in three updates, in one call. canonical() is JSON, always well-formed UTF-16, so the
// concatenation never joins half a surrogate pair.
// crypto.hash (one call, no Hash object) is in Node 20.12+ and 21.7+; 20.11 falls back. A
// namespace import, because a named import of an export the runtime lacks fails at load.
const oneShot = (crypto as Partial<typeof crypto>).hash;
const sha256Hex: (text: string) => string = oneShot
  ? (text) => oneShot('sha256', text, 'hex')
  : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

export function chainHash(r: AuditContent, prev: string): string {
  return sha256Hex('\0' + canonical(r) + prev);
}

// A lone surrogate cannot be stored as UTF-8: SQLite and PostgreSQL would keep U+FFFD while the
// hash was taken over the original, and the row would later fail verification. NUL is refused by
// PostgreSQL text. Both are replaced before hashing, so what is stored is what was hashed.
const UNSTORABLE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\0/g;
function storable(v: string | null | undefined, max?: number): string | null {
  if (v === null || v === undefined) return null;
  return (max !== undefined && v.length > max ? v.slice(0, max) : v).replace(UNSTORABLE, '\uFFFD');
}

/** The columns of the exact check, in canonical order, then the two hashes. */
const EXACT_COLUMNS = 'seq, chain_seq, id, created_at, actor_id, workspace_id, action, subject_type, subject_id, ip, user_agent, detail, prev_hash, hash';
// The fast check has the database build canonical(e) itself, so each row crosses the driver as
// one string (`canonical || prev_hash || hash`) instead of thirteen values: most of verify's time
// was the drivers turning columns into JavaScript values. Both encodings below produce the bytes
// of JSON.stringify for every value the columns can hold; where one might not (a value no
// application write produces), the row only fails the fast check and is re-checked exactly.
// Each has the legacy encoding (chain_seq null) and the chained one, as canonical() does.
const CANON_SQLITE =
  'case when chain_seq is null then json_array(seq, id, created_at, actor_id, workspace_id, action, subject_type, subject_id, ip, user_agent, detail) ' +
  'else json_array(seq, chain_seq, workspace_id, id, created_at, actor_id, action, subject_type, subject_id, ip, user_agent, detail) end';
const pgJson = (c: string) => `coalesce(to_json(${c})::text, 'null')`;
const pgTail = ['action', 'subject_type', 'subject_id', 'ip', 'user_agent', 'detail'].map(pgJson).join(" || ',' || ");
const CANON_PG =
  `case when chain_seq is null then '[' || seq || ',' || ${pgJson('id')} || ',' || created_at || ',' || ${pgJson('actor_id')} || ',' || ${pgJson('workspace_id')} || ',' || ${pgTail} || ']' ` +
  `else '[' || seq || ',' || chain_seq || ',' || ${pgJson('workspace_id')} || ',' || ${pgJson('id')} || ',' || created_at || ',' || ${pgJson('actor_id')} || ',' || ${pgTail} || ']' end`;
/** The database's own encoding of canonical(e), which verify's fast check hashes (exported for its test). */
export function canonicalSql(db: Db | Trx): string {
  return isPostgresClient(db) ? CANON_PG : CANON_SQLITE;
}
const fastSql = (canon: string, p: (i: number) => string) => `select seq as s, ${canon} || prev_hash || hash as c from audit_events where seq > ${p(1)} order by seq limit ${p(2)}`;
const exactSql = (p: (i: number) => string, columns = EXACT_COLUMNS) => `select ${columns} from audit_events where seq > ${p(1)} order by seq limit ${p(2)}`;
const BEFORE_ALL = Number.MIN_SAFE_INTEGER; // keyset start below any seq, so a forged seq <= 0 is seen too

/** The heads verify checks the walk against: the frozen legacy head and every chain's head. */
export interface Heads {
  legacy: { seq: unknown; hash: unknown } | undefined;
  chains: Array<{ chain: unknown; seq: unknown; hash: unknown }>;
}

/** Reads the log for verify, in seq order, by keyset (`seq > after`), inside one snapshot. */
export interface ChainReader {
  fast(after: unknown, limit: number): Promise<Array<{ s: unknown; c: unknown }>>;
  exact(after: unknown, limit: number): Promise<Array<Record<string, unknown>>>;
  heads(): Promise<Heads>;
}

type Failure = Extract<VerifyResult, { ok: false }>;
/** Where the walk is in one chain: the next chain_seq, the last hash, the seq of its last row. */
type ChainState = { next: number; prev: string; seq: number };

/**
 * The walk over every chain at once, in global seq order. Holds the legacy chain's running hash
 * and next seq, and one ChainState per chain: memory grows with the number of workspaces, not
 * rows. `fast` checks a database-encoded row; `row` is the exact check on the columns with our
 * own canonical(), and the only one that may report a row as bad.
 */
class ChainWalker {
  legacyPrev = GENESIS_HASH;
  legacyNext = 1;
  readonly chains = new Map<string, ChainState>();
  count = 0;
  lastSeq = BEFORE_ALL; // seq of the last verified row: where an exact re-check starts
  failure: Failure | null = null;

  /** `legacyEnd`: the legacy head's seq; a legacy row past it was not written by the app. */
  constructor(private readonly legacyEnd: number) {}

  private failed(seq: number, reason: string): Failure {
    this.failure = { ok: false, seq, reason, count: this.count };
    return this.failure;
  }

  private fail(seq: number, reason: string): false {
    this.failed(seq, reason);
    return false;
  }

  private passed(seq: number): true {
    this.count++;
    this.lastSeq = seq;
    return true;
  }

  /** true: the row is verified and the walk moves on. false: look at it exactly. */
  fast(seq: unknown, line: unknown): boolean {
    if (typeof seq !== 'number' || seq < 1 || typeof line !== 'string') return false;
    const n = line.length;
    const a = line.indexOf(',');
    if (line.charCodeAt(a + 1) === 34 /* " */) {
      // A legacy row: [seq,"id",...
      if (seq !== this.legacyNext || seq > this.legacyEnd || line.slice(n - 128, n - 64) !== this.legacyPrev) return false;
      const hash = line.slice(n - 64);
      if (sha256Hex('\0' + line.slice(0, n - 64)) !== hash) return false;
      this.legacyPrev = hash;
      this.legacyNext++;
      return this.passed(seq);
    }
    // A chained row: [seq,chain_seq,"workspace id" or null,...
    const b = line.indexOf(',', a + 1);
    let chain: string;
    if (line.startsWith('null,', b + 1)) chain = '';
    else if (line.charCodeAt(b + 1) === 34) {
      chain = line.slice(b + 2, line.indexOf('"', b + 2));
      if (chain.includes('\\')) return false; // an escape: leave the decoding to the exact check
    } else return false;
    const state = this.chains.get(chain);
    if (Number(line.slice(a + 1, b)) !== (state ? state.next : 1)) return false;
    if (line.slice(n - 128, n - 64) !== (state ? state.prev : GENESIS_HASH)) return false;
    const hash = line.slice(n - 64);
    if (sha256Hex('\0' + line.slice(0, n - 64)) !== hash) return false;
    if (state) {
      state.next++;
      state.prev = hash;
      state.seq = seq;
    } else this.chains.set(chain, { next: 2, prev: hash, seq });
    return this.passed(seq);
  }

  /** The exact check of one row given as its columns; false (with `failure` set) if it is bad. */
  row(r: Record<string, unknown>): boolean {
    const n = Number(r.seq);
    if (!Number.isSafeInteger(n) || n < 1) return this.fail(n, `a row has seq ${String(r.seq)}, outside the log (seq starts at 1): it was inserted or renumbered`);
    return r.chain_seq === null || r.chain_seq === undefined ? this.legacyRow(n, r) : this.chainedRow(n, r);
  }

  private legacyRow(n: number, r: Record<string, unknown>): boolean {
    if (n > this.legacyEnd) {
      return this.fail(n, `row ${n} has no chain position (chain_seq) but lies past the end of the legacy chain (seq ${this.legacyEnd}): it was added outside the application, or its chain_seq was erased`);
    }
    if (n !== this.legacyNext) return this.fail(this.legacyNext, `row ${this.legacyNext} is missing (the next row is ${n}): it was deleted or renumbered`);
    if (r.prev_hash !== this.legacyPrev) {
      return this.fail(n, n === 1 ? 'the first row does not start from the genesis hash' : `row ${n} does not link to row ${n - 1}: one of them was altered, or the rows were reordered`);
    }
    const text = '\0' + JSON.stringify([n, r.id, Number(r.created_at), r.actor_id, r.workspace_id, r.action, r.subject_type, r.subject_id, r.ip, r.user_agent, r.detail]) + this.legacyPrev;
    if (sha256Hex(text) !== r.hash) return this.fail(n, `row ${n}'s content does not match its hash: it was edited`);
    this.legacyPrev = r.hash as string;
    this.legacyNext = n + 1;
    return this.passed(n);
  }

  private chainedRow(n: number, r: Record<string, unknown>): boolean {
    const chain = chainKey(typeof r.workspace_id === 'string' ? r.workspace_id : null);
    const state = this.chains.get(chain);
    const expected = state ? state.next : 1;
    const cs = Number(r.chain_seq);
    const who = whose(chain);
    if (cs !== expected) {
      if (!Number.isSafeInteger(cs) || cs < 1) return this.fail(n, `${who} row at seq ${n} has chain position ${String(r.chain_seq)}, outside the chain (positions start at 1): it was inserted or renumbered`);
      if (cs > expected) return this.fail(n, `${who} row ${expected} is missing (seq ${n} holds its row ${cs}): it was deleted, or rows were renumbered or reordered`);
      return this.fail(n, `${who} row ${cs} at seq ${n} comes after its row ${expected - 1} (at seq ${state!.seq}): rows were inserted, renumbered or reordered`);
    }
    const prev = state ? state.prev : GENESIS_HASH;
    if (r.prev_hash !== prev) {
      return this.fail(n, cs === 1 ? `${who} first row (seq ${n}) does not start from the genesis hash` : `${who} row ${cs} (seq ${n}) does not link to its row ${cs - 1} (seq ${state!.seq}): one of them was altered, or the rows were reordered`);
    }
    const text = '\0' + JSON.stringify([n, cs, r.workspace_id, r.id, Number(r.created_at), r.actor_id, r.action, r.subject_type, r.subject_id, r.ip, r.user_agent, r.detail]) + prev;
    if (sha256Hex(text) !== r.hash) return this.fail(n, `${who} row ${cs} (seq ${n}) does not match its hash: it was edited`);
    if (state) {
      state.next = cs + 1;
      state.prev = r.hash as string;
      state.seq = n;
    } else this.chains.set(chain, { next: cs + 1, prev: r.hash as string, seq: n });
    return this.passed(n);
  }

  /**
   * After the last row: each head (read in the same snapshot) must name its chain's last row.
   * Of several failures, the one at the lowest seq is reported.
   */
  end(heads: Heads): VerifyResult {
    if (this.failure) return this.failure;
    const failures: Failure[] = [];
    const fail = (seq: number, reason: string) => failures.push({ ok: false, seq, reason, count: this.count });
    // The legacy chain, as before per-workspace chains.
    const legacyCount = this.legacyNext - 1;
    const legacySeq = Number(heads.legacy?.seq ?? 0);
    if (legacySeq > legacyCount) fail(legacyCount + 1, `the log ends at row ${legacyCount} but its head records ${legacySeq}: rows ${legacyCount + 1}-${legacySeq} were removed from the end`);
    else if ((heads.legacy?.hash ?? GENESIS_HASH) !== this.legacyPrev) fail(legacyCount, `the head's hash does not match row ${legacyCount}: the end of the log was rewritten`);
    // Every chain.
    const headed = new Set<string>();
    for (const h of heads.chains) {
      const chain = String(h.chain);
      headed.add(chain);
      const state = this.chains.get(chain);
      const count = state ? state.next - 1 : 0;
      const at = state?.seq ?? 0;
      const headSeq = Number(h.seq);
      const who = whose(chain);
      if (headSeq > count) {
        fail(at + 1, count === 0 ? `${chainName(chain)} has no rows but its head records row ${headSeq}: the whole chain was deleted` : `${chainName(chain)} ends at its row ${count} (seq ${at}) but its head records row ${headSeq}: rows ${count + 1}-${headSeq} were removed from the end`);
      } else if (headSeq < count) {
        fail(at, `${who} rows ${headSeq + 1}-${count} are beyond its recorded head (row ${headSeq}), the last at seq ${at}: they were added outside the application`);
      } else if (count > 0 && h.hash !== state!.prev) {
        fail(at, `${who} head's hash does not match its row ${count} (seq ${at}): the end of the chain was rewritten`);
      }
    }
    for (const [chain, state] of this.chains) {
      if (!headed.has(chain)) fail(state.seq, `${chainName(chain)} has rows 1-${state.next - 1} (the last at seq ${state.seq}) but no head: its head was deleted, or the rows were added outside the application`);
    }
    if (!failures.length) return { ok: true, count: this.count };
    return failures.reduce((a, b) => (b.seq < a.seq ? b : a));
  }
}

/**
 * Walk every chain through `reader`: fast batches, each asked for before the previous one is
 * checked so the database reads while JavaScript hashes. A row that fails the fast check sends
 * one batch from the last verified row through the exact check, which either names the bad row
 * or clears it and hands back to the fast path. The heads are read first, in the same snapshot.
 */
export async function walkChain(reader: ChainReader, batch: number): Promise<VerifyResult> {
  const heads = await reader.heads();
  const w = new ChainWalker(Number(heads.legacy?.seq ?? 0));
  let pending: Promise<Array<{ s: unknown; c: unknown }>> | null = reader.fast(BEFORE_ALL, batch);
  while (pending) {
    const rows: Array<{ s: unknown; c: unknown }> = await pending;
    const n = rows.length;
    pending = n === batch ? reader.fast(rows[n - 1]!.s, batch) : null;
    let i = 0;
    while (i < n && w.fast(rows[i]!.s, rows[i]!.c)) i++;
    if (i === n) continue;
    await pending?.catch(() => {}); // settle the read ahead before the connection is reused
    const exact = await reader.exact(w.lastSeq, batch);
    for (const r of exact) if (!w.row(r)) return w.failure!;
    pending = exact.length === batch ? reader.fast(exact[batch - 1]!.seq, batch) : null;
  }
  return w.end(heads);
}

type SqliteStatement = { all(params: unknown[], cb: (err: Error | null, rows: Array<Record<string, unknown>>) => void): void; finalize(cb: () => void): void };
type SqliteConnection = {
  prepare(sql: string, cb: (err: Error | null) => void): SqliteStatement;
  exec(sql: string, cb: (err: Error | null) => void): void;
  all(sql: string, params: unknown[], cb: (err: Error | null, rows: Array<Record<string, unknown>>) => void): void;
};
type PgConnection = { query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> };

const LEGACY_HEAD_SQL = 'select seq, hash from audit_head where id = 1';
const HEADS_SQL = 'select chain, seq, hash from audit_heads order by chain';
/** What verify reads with: the log as it is, or as it was before per-workspace chains. */
interface VerifySql { canonSqlite: string; canonPg: string; exactColumns: string; heads: string | null }
const CHAINED_SQL: VerifySql = { canonSqlite: CANON_SQLITE, canonPg: CANON_PG, exactColumns: EXACT_COLUMNS, heads: HEADS_SQL };
const PRE_CHAINS_SQL: VerifySql = {
  canonSqlite: CANON_SQLITE.replaceAll('chain_seq', 'null'),
  canonPg: CANON_PG.replaceAll('chain_seq', 'null'),
  exactColumns: EXACT_COLUMNS.replace('chain_seq', 'null as chain_seq'),
  heads: null,
};
// PostgreSQL: lock the chain's head, then draw the row's seq. nextval sits outside the locking
// subquery so it runs once the lock is held: two writers of one chain then draw their seqs in
// the order they append, which keeps seq order equal to chain_seq order within a chain.
const PG_LOCK_HEAD = `select h.seq, h.hash, nextval('audit_events_seq') as next from (select seq, hash from audit_heads where chain = ? for update) h`;
const PG_NEW_HEAD = `insert into audit_heads (chain, seq, hash) values (?, 0, '${GENESIS_HASH}') on conflict (chain) do nothing`;
// SQLite has one writer connection, so nothing else appends between this read and the write:
// the head and the next seq in one statement, no lock.
const SQLITE_READ_HEAD = `select (select coalesce(max(seq), 0) from audit_events) as top, h.seq, h.hash from (select 1) left join audit_heads h on h.chain = ?`;
const SQLITE_MOVE_HEAD = 'insert into audit_heads (chain, seq, hash) values (?, ?, ?) on conflict (chain) do update set seq = excluded.seq, hash = excluded.hash';

export class AuditService {
  constructor(private readonly clock: Clock) {}

  /**
   * Append one event to its workspace's chain (the firm chain without a workspace) inside `trx`.
   * Throws (rolling the caller back) if it cannot. Two round trips on PostgreSQL (lock + seq,
   * then insert + head), three on SQLite; one more the first time a chain is used.
   */
  async record(trx: Trx, e: AuditEntry): Promise<AuditRow> {
    if (!trx.isTransaction) throw new Error('audit.record needs the transaction of the change it records');
    if (typeof e.action !== 'string' || !AUDIT_ACTION.test(e.action)) throw new Error(`audit action "${String(e.action)}" must be <plugin>.<subject>.<verb>`);
    // JSON.stringify throws on a cycle or a BigInt: the change is then rolled back (SECURITY.md 43).
    const detail = storable(JSON.stringify(e.detail ?? {}))!;
    // '' is the firm chain's key, so an empty workspace id is stored as none.
    const workspaceId = storable(e.workspaceId) || null;
    const chain = chainKey(workspaceId);
    const pg = isPostgresClient(trx);
    let head: { seq: number; hash: string; next: number };
    if (pg) {
      let locked = (await trx.raw(PG_LOCK_HEAD, [chain])).rows as Array<{ seq: number; hash: string; next: number }>;
      if (!locked.length) {
        // The chain's first event: create its head (a racing first writer of the same workspace
        // waits here for the other's commit), then lock it.
        await trx.raw(PG_NEW_HEAD, [chain]);
        locked = (await trx.raw(PG_LOCK_HEAD, [chain])).rows as typeof locked;
      }
      if (!locked.length) throw new Error(`the audit chain head of ${chain || 'the firm'} could not be created or locked`);
      head = locked[0]!;
    } else {
      const [r] = (await trx.raw(SQLITE_READ_HEAD, [chain])) as Array<{ top: number; seq: number | null; hash: string | null }>;
      head = { seq: r!.seq ?? 0, hash: r!.hash ?? GENESIS_HASH, next: Number(r!.top) + 1 };
    }
    const base = {
      seq: Number(head.next),
      chain_seq: Number(head.seq) + 1,
      id: newId(),
      created_at: this.clock.now(),
      actor_id: storable(e.actorId),
      workspace_id: workspaceId,
      action: e.action,
      subject_type: storable(e.subjectType),
      subject_id: storable(e.subjectId),
      ip: storable(e.ip),
      user_agent: e.userAgent ? storable(e.userAgent, 400) : null,
      detail,
    };
    const row: AuditRow = { ...base, prev_hash: head.hash, hash: chainHash(base, head.hash) };
    // PostgreSQL: the row and the head's move in one statement (one round trip), built with knex
    // rather than raw SQL so the kernel's cache reads the insert's workspace from it (a raw
    // statement it cannot read would empty the whole cache on every audited write).
    if (pg) await trx.with('e', trx('audit_events').insert(row)).table('audit_heads').where({ chain }).update({ seq: row.chain_seq, hash: row.hash });
    else {
      await trx('audit_events').insert(row);
      await trx.raw(SQLITE_MOVE_HEAD, [chain, row.chain_seq, row.hash]);
    }
    return row;
  }

  /**
   * Walk every chain in seq order and report the first row whose seq, chain position, link or
   * hash is wrong, or a head that does not match its chain's last row (truncation, rows appended
   * behind the app's back, a chain without a head or a head without rows).
   *
   * It reads in one snapshot (a read-only transaction, holding one pooled connection for the
   * walk: on SQLite that is the only one, which is why the CLI, not a request, runs it), so rows a
   * running server commits meanwhile cannot look like tampering. It pages by keyset on seq,
   * never OFFSET. On SQLite the statements are prepared once on the raw driver connection.
   */
  async verify(db: Db, batch = 10_000): Promise<VerifyResult> {
    // A database from before per-workspace chains (a backup restored by `atrium restore`, which
    // checks the log before anything migrates it) has no chain_seq and no audit_heads: every row
    // is then a legacy row, read with chain_seq as null.
    const sql = (await db.schema.hasColumn('audit_events', 'chain_seq')) ? CHAINED_SQL : PRE_CHAINS_SQL;
    return isPostgresClient(db) ? verifyPostgres(db, batch, sql) : verifySqlite(db, batch, sql);
  }
}

async function verifySqlite(db: Db, batch: number, sql: VerifySql): Promise<VerifyResult> {
  const conn = (await db.client.acquireConnection()) as SqliteConnection;
  const exec = (sql: string) => new Promise<void>((res, rej) => conn.exec(sql, (e) => (e ? rej(e) : res())));
  const prepare = (sql: string) => new Promise<SqliteStatement>((res, rej) => {
    const st = conn.prepare(sql, (e) => (e ? rej(e) : res(st)));
  });
  const all = (st: SqliteStatement, params: unknown[]) => new Promise<Array<Record<string, unknown>>>((res, rej) => st.all(params, (e, rows) => (e ? rej(e) : res(rows))));
  const query = (sql: string) => new Promise<Array<Record<string, unknown>>>((res, rej) => conn.all(sql, [], (e, rows) => (e ? rej(e) : res(rows))));
  const statements: SqliteStatement[] = [];
  let open = false;
  try {
    await exec('BEGIN'); // deferred: the first read fixes the snapshot (WAL)
    open = true;
    const fast = await prepare(fastSql(sql.canonSqlite, () => '?'));
    statements.push(fast);
    let exact: SqliteStatement | undefined;
    return await walkChain(
      {
        fast: (after, limit) => all(fast, [after, limit]) as Promise<Array<{ s: unknown; c: unknown }>>,
        exact: async (after, limit) => {
          if (!exact) statements.push((exact = await prepare(exactSql(() => '?', sql.exactColumns))));
          return all(exact, [after, limit]);
        },
        heads: async () => ({ legacy: (await query(LEGACY_HEAD_SQL))[0] as Heads['legacy'], chains: sql.heads ? ((await query(sql.heads)) as Heads['chains']) : [] }),
      },
      batch,
    );
  } finally {
    for (const st of statements) await new Promise<void>((res) => st.finalize(res));
    if (open) await exec('ROLLBACK').catch(() => {}); // read-only: nothing to commit
    db.client.releaseConnection(conn);
  }
}

async function verifyPostgres(db: Db, batch: number, sql: VerifySql): Promise<VerifyResult> {
  const conn = (await db.client.acquireConnection()) as PgConnection;
  const fast = fastSql(sql.canonPg, (i) => `$${i}`);
  const exact = exactSql((i) => `$${i}`, sql.exactColumns);
  let open = false;
  try {
    await conn.query('begin isolation level repeatable read read only');
    open = true;
    return await walkChain(
      {
        fast: (after, limit) => conn.query(fast, [after, limit]).then((r) => r.rows as Array<{ s: unknown; c: unknown }>),
        exact: (after, limit) => conn.query(exact, [after, limit]).then((r) => r.rows),
        heads: async () => ({ legacy: (await conn.query(LEGACY_HEAD_SQL)).rows[0] as Heads['legacy'], chains: sql.heads ? ((await conn.query(sql.heads)).rows as Heads['chains']) : [] }),
      },
      batch,
    );
  } finally {
    if (open) await conn.query('rollback').catch(() => {});
    db.client.releaseConnection(conn);
  }
}
