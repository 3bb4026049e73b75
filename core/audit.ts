// The audit log: append-only, hash-chained. Each row is written in the same transaction as the
// change it records, so a failed audit write rolls the change back. The chain head lives in one
// row (audit_head) whose update serialises concurrent writers on both databases.
//   h_n = SHA-256(0x00 || canonical(e_n) || h_{n-1})
import { createHash } from 'node:crypto';
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

const GENESIS = '0'.repeat(64);
const ACTION = /^[a-z][a-z0-9-]*\.[a-z][a-zA-Z0-9_]*\.[a-z][a-zA-Z0-9_]*$/;

/** Canonical encoding: a JSON array in fixed field order (no key-order ambiguity). */
export function canonical(r: Omit<AuditRow, 'hash' | 'prev_hash'>): string {
  return JSON.stringify([r.seq, r.id, r.created_at, r.actor_id, r.workspace_id, r.action, r.subject_type, r.subject_id, r.ip, r.user_agent, r.detail]);
}

export function chainHash(r: Omit<AuditRow, 'hash' | 'prev_hash'>, prev: string): string {
  return createHash('sha256').update(Buffer.from([0])).update(canonical(r), 'utf8').update(prev, 'utf8').digest('hex');
}

export class AuditService {
  constructor(private readonly clock: Clock) {}

  /** Append one event inside `trx`. Throws (rolling the caller back) if it cannot. */
  async record(trx: Trx, e: AuditEntry): Promise<AuditRow> {
    if (!trx.isTransaction) throw new Error('audit.record needs the transaction of the change it records');
    if (!ACTION.test(e.action)) throw new Error(`audit action "${e.action}" must be <plugin>.<subject>.<verb>`);
    const detail = JSON.stringify(e.detail ?? {});
    const headQ = trx('audit_head').where({ id: 1 }).first('seq', 'hash');
    const head = (await (isPostgresClient(trx) ? headQ.forUpdate() : headQ)) as { seq: number; hash: string };
    const base = {
      seq: Number(head.seq) + 1,
      id: newId(),
      created_at: this.clock.now(),
      actor_id: e.actorId ?? null,
      workspace_id: e.workspaceId ?? null,
      action: e.action,
      subject_type: e.subjectType ?? null,
      subject_id: e.subjectId ?? null,
      ip: e.ip ?? null,
      user_agent: e.userAgent ? e.userAgent.slice(0, 400) : null,
      detail,
    };
    const row: AuditRow = { ...base, prev_hash: head.hash, hash: chainHash(base, head.hash) };
    await trx('audit_events').insert(row);
    await trx('audit_head').where({ id: 1 }).update({ seq: row.seq, hash: row.hash });
    return row;
  }

  /**
   * Walk the chain in seq order. Reports the first row whose seq, link or hash is wrong, or a
   * head that does not match the last row (truncation).
   */
  async verify(db: Db, batch = 5000): Promise<{ ok: true; count: number } | { ok: false; seq: number; reason: string; count: number }> {
    let prev = GENESIS;
    let expected = 1;
    let count = 0;
    for (;;) {
      const rows = (await db('audit_events').where('seq', '>=', expected).orderBy('seq').limit(batch)) as AuditRow[];
      for (const r of rows) {
        const seq = Number(r.seq);
        if (seq !== expected) return { ok: false, seq: expected, reason: `row ${expected} is missing (next is ${seq})`, count };
        if (r.prev_hash !== prev) return { ok: false, seq, reason: 'link to the previous row is broken', count };
        const { hash, prev_hash, ...rest } = r;
        if (chainHash({ ...rest, seq, created_at: Number(r.created_at) }, prev) !== hash) return { ok: false, seq, reason: 'row content does not match its hash', count };
        prev = hash;
        expected++;
        count++;
      }
      if (rows.length < batch) break;
    }
    const head = (await db('audit_head').where({ id: 1 }).first('seq', 'hash')) as { seq: number; hash: string };
    if (Number(head.seq) !== count || head.hash !== prev) {
      return { ok: false, seq: count + 1, reason: `the log ends at ${count} but its head says ${head.seq}: rows were removed from the end`, count };
    }
    return { ok: true, count };
  }
}
