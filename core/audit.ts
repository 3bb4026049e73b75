// The audit log: append-only, hash-chained. Each row is written in the same transaction as the
// change it records, so a failed audit write rolls the change back. The chain head lives in one
// row (audit_head) whose update serialises concurrent writers on both databases.
//   h_n = SHA-256(0x00 || canonical(e_n) || h_{n-1})
// `verify` walks the whole chain (SECURITY.md 43-44); it is what `atrium audit:verify` runs and
// must stay fast over millions of rows (bench/audit-verify.ts measures it).
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

/** Canonical encoding: a JSON array in fixed field order (no key-order ambiguity). */
export function canonical(r: Omit<AuditRow, 'hash' | 'prev_hash'>): string {
  return JSON.stringify([r.seq, r.id, r.created_at, r.actor_id, r.workspace_id, r.action, r.subject_type, r.subject_id, r.ip, r.user_agent, r.detail]);
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

export function chainHash(r: Omit<AuditRow, 'hash' | 'prev_hash'>, prev: string): string {
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
const EXACT_COLUMNS = 'seq, id, created_at, actor_id, workspace_id, action, subject_type, subject_id, ip, user_agent, detail, prev_hash, hash';
// The fast check has the database build canonical(e) itself, so each row crosses the driver as
// one string (`canonical || prev_hash || hash`) instead of thirteen values: most of verify's time
// was the drivers turning columns into JavaScript values. Both encodings below produce the bytes
// of JSON.stringify for every value the columns can hold; where one might not (a value no
// application write produces), the row only fails the fast check and is re-checked exactly.
const CANON_SQLITE = 'json_array(seq, id, created_at, actor_id, workspace_id, action, subject_type, subject_id, ip, user_agent, detail)';
const pgJson = (c: string) => `coalesce(to_json(${c})::text, 'null')`;
const CANON_PG = `'[' || seq || ',' || ${pgJson('id')} || ',' || created_at || ',' || ${['actor_id', 'workspace_id', 'action', 'subject_type', 'subject_id', 'ip', 'user_agent', 'detail'].map(pgJson).join(" || ',' || ")} || ']'`;
/** The database's own encoding of canonical(e), which verify's fast check hashes (exported for its test). */
export function canonicalSql(db: Db | Trx): string {
  return isPostgresClient(db) ? CANON_PG : CANON_SQLITE;
}
const fastSql = (canon: string, p: (i: number) => string) => `select seq as s, ${canon} || prev_hash || hash as c from audit_events where seq > ${p(1)} order by seq limit ${p(2)}`;
const exactSql = (p: (i: number) => string) => `select ${EXACT_COLUMNS} from audit_events where seq > ${p(1)} order by seq limit ${p(2)}`;
const BEFORE_ALL = Number.MIN_SAFE_INTEGER; // keyset start below any seq, so a forged seq <= 0 is seen too

/** Reads the log for verify, in seq order, by keyset (`seq > after`), inside one snapshot. */
export interface ChainReader {
  fast(after: unknown, limit: number): Promise<Array<{ s: unknown; c: unknown }>>;
  exact(after: unknown, limit: number): Promise<Array<Record<string, unknown>>>;
  head(): Promise<{ seq: unknown; hash: unknown } | undefined>;
}

/**
 * The chain walk. Holds only the running hash, the next expected seq and a count. `fast` checks a
 * database-encoded row; `row` is the exact check on the columns with our own canonical(), and
 * the only one that may report a row as bad.
 */
class ChainWalker {
  prev = GENESIS_HASH;
  expected = 1;
  count = 0;
  failure: Extract<VerifyResult, { ok: false }> | null = null;

  private failed(seq: number, reason: string): Extract<VerifyResult, { ok: false }> {
    this.failure = { ok: false, seq, reason, count: this.count };
    return this.failure;
  }

  private fail(seq: number, reason: string): false {
    this.failed(seq, reason);
    return false;
  }

  /** true: the row is verified and the walk moves on. false: look at it exactly. */
  fast(seq: unknown, line: unknown): boolean {
    if (seq !== this.expected || typeof line !== 'string') return false;
    const n = line.length;
    if (line.slice(n - 128, n - 64) !== this.prev) return false;
    const hash = line.slice(n - 64);
    if (sha256Hex('\0' + line.slice(0, n - 64)) !== hash) return false;
    this.prev = hash;
    this.expected++;
    this.count++;
    return true;
  }

  /** The exact check of one row given as its columns; false (with `failure` set) if it is bad. */
  row(r: Record<string, unknown>): boolean {
    const n = Number(r.seq);
    if (n !== this.expected) {
      if (!Number.isInteger(n) || n < 1) return this.fail(n, `a row has seq ${String(r.seq)}, outside the chain (seq starts at 1 and counts up by one): it was inserted or renumbered`);
      return this.fail(this.expected, `row ${this.expected} is missing (the next row is ${n}): it was deleted or renumbered`);
    }
    if (r.prev_hash !== this.prev) {
      return this.fail(n, n === 1 ? 'the first row does not start from the genesis hash' : `row ${n} does not link to row ${n - 1}: one of them was altered, or the rows were reordered`);
    }
    const text = '\0' + JSON.stringify([n, r.id, Number(r.created_at), r.actor_id, r.workspace_id, r.action, r.subject_type, r.subject_id, r.ip, r.user_agent, r.detail]) + this.prev;
    if (sha256Hex(text) !== r.hash) return this.fail(n, `row ${n}'s content does not match its hash: it was edited`);
    this.prev = r.hash as string;
    this.expected = n + 1;
    this.count++;
    return true;
  }

  /** After the last row: the head (read in the same snapshot) must name the last row. */
  end(head: { seq: unknown; hash: unknown } | undefined): VerifyResult {
    if (this.failure) return this.failure;
    const headSeq = Number(head?.seq ?? 0);
    if (headSeq > this.count) {
      return this.failed(this.count + 1, `the log ends at row ${this.count} but its head records ${headSeq}: rows ${this.count + 1}-${headSeq} were removed from the end`);
    }
    if (headSeq < this.count) {
      return this.failed(headSeq + 1, `rows ${headSeq + 1}-${this.count} are beyond the recorded head (${headSeq}): they were added outside the application`);
    }
    if (head?.hash !== this.prev) return this.failed(this.count, `the head's hash does not match row ${this.count}: the end of the log was rewritten`);
    return { ok: true, count: this.count };
  }
}

/**
 * Walk the whole chain through `reader`: fast batches, each asked for before the previous one is
 * checked so the database reads while JavaScript hashes. A row that fails the fast check sends
 * one batch from the last verified row through the exact check, which either names the bad row
 * or clears it and hands back to the fast path.
 */
export async function walkChain(reader: ChainReader, batch: number): Promise<VerifyResult> {
  const w = new ChainWalker();
  let pending: Promise<Array<{ s: unknown; c: unknown }>> | null = reader.fast(BEFORE_ALL, batch);
  while (pending) {
    const rows: Array<{ s: unknown; c: unknown }> = await pending;
    const n = rows.length;
    pending = n === batch ? reader.fast(rows[n - 1]!.s, batch) : null;
    let i = 0;
    while (i < n && w.fast(rows[i]!.s, rows[i]!.c)) i++;
    if (i === n) continue;
    await pending?.catch(() => {}); // settle the read ahead before the connection is reused
    const exact = await reader.exact(w.count === 0 ? BEFORE_ALL : w.expected - 1, batch);
    for (const r of exact) if (!w.row(r)) return w.end(undefined);
    pending = exact.length === batch ? reader.fast(exact[batch - 1]!.seq, batch) : null;
  }
  return w.end(await reader.head());
}

type SqliteStatement = { all(params: unknown[], cb: (err: Error | null, rows: Array<Record<string, unknown>>) => void): void; finalize(cb: () => void): void };
type SqliteConnection = {
  prepare(sql: string, cb: (err: Error | null) => void): SqliteStatement;
  exec(sql: string, cb: (err: Error | null) => void): void;
  all(sql: string, params: unknown[], cb: (err: Error | null, rows: Array<Record<string, unknown>>) => void): void;
};
type PgConnection = { query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> };

export class AuditService {
  constructor(private readonly clock: Clock) {}

  /** Append one event inside `trx`. Throws (rolling the caller back) if it cannot. */
  async record(trx: Trx, e: AuditEntry): Promise<AuditRow> {
    if (!trx.isTransaction) throw new Error('audit.record needs the transaction of the change it records');
    if (typeof e.action !== 'string' || !AUDIT_ACTION.test(e.action)) throw new Error(`audit action "${String(e.action)}" must be <plugin>.<subject>.<verb>`);
    // JSON.stringify throws on a cycle or a BigInt: the change is then rolled back (SECURITY.md 43).
    const detail = storable(JSON.stringify(e.detail ?? {}))!;
    const headQ = trx('audit_head').where({ id: 1 }).first('seq', 'hash');
    const head = (await (isPostgresClient(trx) ? headQ.forUpdate() : headQ)) as { seq: number; hash: string };
    const base = {
      seq: Number(head.seq) + 1,
      id: newId(),
      created_at: this.clock.now(),
      actor_id: storable(e.actorId),
      workspace_id: storable(e.workspaceId),
      action: e.action,
      subject_type: storable(e.subjectType),
      subject_id: storable(e.subjectId),
      ip: storable(e.ip),
      user_agent: e.userAgent ? storable(e.userAgent, 400) : null,
      detail,
    };
    const row: AuditRow = { ...base, prev_hash: head.hash, hash: chainHash(base, head.hash) };
    await trx('audit_events').insert(row);
    await trx('audit_head').where({ id: 1 }).update({ seq: row.seq, hash: row.hash });
    return row;
  }

  /**
   * Walk the chain in seq order and report the first row whose seq, link or hash is wrong, or a
   * head that does not match the last row (truncation, or rows appended behind the app's back).
   *
   * It reads in one snapshot (a read-only transaction, holding one pooled connection for the
   * walk: on SQLite that is the only one, which is why the CLI, not a request, runs it), so rows a
   * running server commits meanwhile cannot look like tampering. It pages by keyset on seq,
   * never OFFSET. On SQLite the statements are prepared once on the raw driver connection.
   */
  async verify(db: Db, batch = 10_000): Promise<VerifyResult> {
    return isPostgresClient(db) ? verifyPostgres(db, batch) : verifySqlite(db, batch);
  }
}

async function verifySqlite(db: Db, batch: number): Promise<VerifyResult> {
  const conn = (await db.client.acquireConnection()) as SqliteConnection;
  const exec = (sql: string) => new Promise<void>((res, rej) => conn.exec(sql, (e) => (e ? rej(e) : res())));
  const prepare = (sql: string) => new Promise<SqliteStatement>((res, rej) => {
    const st = conn.prepare(sql, (e) => (e ? rej(e) : res(st)));
  });
  const all = (st: SqliteStatement, params: unknown[]) => new Promise<Array<Record<string, unknown>>>((res, rej) => st.all(params, (e, rows) => (e ? rej(e) : res(rows))));
  const statements: SqliteStatement[] = [];
  let open = false;
  try {
    await exec('BEGIN'); // deferred: the first read fixes the snapshot (WAL)
    open = true;
    const fast = await prepare(fastSql(CANON_SQLITE, () => '?'));
    statements.push(fast);
    let exact: SqliteStatement | undefined;
    return await walkChain(
      {
        fast: (after, limit) => all(fast, [after, limit]) as Promise<Array<{ s: unknown; c: unknown }>>,
        exact: async (after, limit) => {
          if (!exact) statements.push((exact = await prepare(exactSql(() => '?'))));
          return all(exact, [after, limit]);
        },
        head: () => new Promise((res, rej) => conn.all('select seq, hash from audit_head where id = 1', [], (e, rows) => (e ? rej(e) : res(rows[0] as { seq: unknown; hash: unknown })))),
      },
      batch,
    );
  } finally {
    for (const st of statements) await new Promise<void>((res) => st.finalize(res));
    if (open) await exec('ROLLBACK').catch(() => {}); // read-only: nothing to commit
    db.client.releaseConnection(conn);
  }
}

async function verifyPostgres(db: Db, batch: number): Promise<VerifyResult> {
  const conn = (await db.client.acquireConnection()) as PgConnection;
  const fast = fastSql(CANON_PG, (i) => `$${i}`);
  const exact = exactSql((i) => `$${i}`);
  let open = false;
  try {
    await conn.query('begin isolation level repeatable read read only');
    open = true;
    return await walkChain(
      {
        fast: (after, limit) => conn.query(fast, [after, limit]).then((r) => r.rows as Array<{ s: unknown; c: unknown }>),
        exact: (after, limit) => conn.query(exact, [after, limit]).then((r) => r.rows),
        head: () => conn.query('select seq, hash from audit_head where id = 1').then((r) => r.rows[0] as { seq: unknown; hash: unknown } | undefined),
      },
      batch,
    );
  } finally {
    if (open) await conn.query('rollback').catch(() => {});
    db.client.releaseConnection(conn);
  }
}
