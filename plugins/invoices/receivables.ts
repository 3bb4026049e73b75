// What the firm's clients owe, for the receivables page (/staff/invoices): per workspace the person
// works in (their memberships; every workspace for owners and admins, exactly as the staff
// overview), per currency: open invoices, outstanding, overdue, and what was received this month.
// One query for a page of rows (open invoices and this month's payments as one UNION ALL, grouped,
// with the row count as a window) and one for the totals by currency: no query per workspace.
import type { Knex } from 'knex';
import { workspacesQueryFor, type Db, type FirmRole } from '../../core/index.ts';
import { OPEN, owedSql } from './service.ts';

export const SORTS = ['client', 'outstanding', 'overdue', 'paid', 'open'] as const;
export type Sort = (typeof SORTS)[number];
export type Dir = 'asc' | 'desc';

export interface ReceivablesQuery {
  user: { id: string; firmRole: FirmRole | null };
  /** Owners and admins: only the workspaces they are on the team of. */
  mine: boolean;
  now: number;
  /** This month, [from, to) in UTC (payments are dated at UTC midnight of the day received). */
  month: { from: number; to: number };
}

export interface ReceivableRow {
  slug: string;
  name: string;
  currency: string;
  open: number;
  outstanding: number;
  overdue: number;
  paid: number;
}

export interface CurrencyTotal {
  currency: string;
  open: number;
  outstanding: number;
  overdue: number;
  paid: number;
}

function workspaceIds(db: Db, q: ReceivablesQuery) {
  const seesAll = q.user.firmRole === 'owner' || q.user.firmRole === 'admin';
  if (q.mine && seesAll) return db('memberships as m').join('workspaces as w', 'w.id', 'm.workspace_id').where('m.user_id', q.user.id).andWhere('w.archived', false).select('w.id');
  return workspacesQueryFor(db, q.user).select('w.id');
}

/** Open invoices and this month's payments, one row each, in the same columns. */
function amounts(db: Db, q: ReceivablesQuery): Knex.QueryBuilder {
  const open = db('invoices_invoices as i')
    .whereIn('i.workspace_id', workspaceIds(db, q))
    .whereIn('i.status', OPEN as string[])
    .select('i.workspace_id', 'i.currency', db.raw('1 as open_count'), db.raw(`${owedSql('i.')} as outstanding`), db.raw(`case when i.due_at < ? then ${owedSql('i.')} else 0 end as overdue`, [q.now]), db.raw('0 as paid'));
  const paid = db('invoices_payments as p')
    .join('invoices_invoices as i', function join() {
      this.on('i.id', '=', 'p.invoice_id').andOn('i.workspace_id', '=', 'p.workspace_id');
    })
    .whereIn('p.workspace_id', workspaceIds(db, q))
    .where('p.received_at', '>=', q.month.from)
    .andWhere('p.received_at', '<', q.month.to)
    .select('p.workspace_id', 'i.currency', db.raw('0 as open_count'), db.raw('0 as outstanding'), db.raw('0 as overdue'), 'p.amount as paid');
  return open.unionAll(paid);
}

const ORDER: Record<Sort, string> = { client: 'ws.name', outstanding: 'outstanding', overdue: 'overdue', paid: 'paid', open: 'open' };

const num = (v: unknown) => Number(v ?? 0);

/** A page of (workspace, currency) rows, sorted, with the number of rows in all. */
export async function receivables(db: Db, q: ReceivablesQuery, opts: { sort: Sort; dir: Dir; limit: number; offset: number }): Promise<{ rows: ReceivableRow[]; total: number }> {
  const rows = (await db
    .from(amounts(db, q).as('x'))
    .join('workspaces as ws', 'ws.id', 'x.workspace_id')
    .groupBy('ws.id', 'ws.slug', 'ws.name', 'x.currency')
    .select('ws.slug', 'ws.name', 'x.currency')
    .sum({ open: 'x.open_count' })
    .sum({ outstanding: 'x.outstanding' })
    .sum({ overdue: 'x.overdue' })
    .sum({ paid: 'x.paid' })
    .select(db.raw('count(*) over () as n_rows'))
    .orderBy(ORDER[opts.sort], opts.dir)
    .orderBy('ws.name', 'asc')
    .orderBy('x.currency', 'asc')
    .limit(opts.limit)
    .offset(opts.offset)) as Array<Record<string, unknown>>;
  return {
    total: rows.length ? num(rows[0]!.n_rows) : 0,
    rows: rows.map((r) => ({ slug: String(r.slug), name: String(r.name), currency: String(r.currency), open: num(r.open), outstanding: num(r.outstanding), overdue: num(r.overdue), paid: num(r.paid) })),
  };
}

/** The same amounts summed by currency, for the top of the page. */
export async function totalsByCurrency(db: Db, q: ReceivablesQuery): Promise<CurrencyTotal[]> {
  const rows = (await db
    .from(amounts(db, q).as('x'))
    .groupBy('x.currency')
    .select('x.currency')
    .sum({ open: 'x.open_count' })
    .sum({ outstanding: 'x.outstanding' })
    .sum({ overdue: 'x.overdue' })
    .sum({ paid: 'x.paid' })
    .orderBy('x.currency')) as Array<Record<string, unknown>>;
  return rows.map((r) => ({ currency: String(r.currency), open: num(r.open), outstanding: num(r.outstanding), overdue: num(r.overdue), paid: num(r.paid) }));
}

/**
 * One CSV cell of text. Quoted when it holds a comma, a quote or a line break. Text a spreadsheet
 * would read as a formula (starting with = + - @, a tab or a carriage return: a client's name is
 * typed by people) gets a leading apostrophe.
 */
export function csvCell(text: string): string {
  const s = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * An amount this page computed, as a plain number ("1234.50", "-12.50" for a month with more
 * refunded than received): left unquoted and without an apostrophe so that a spreadsheet adds it
 * up. Anything that is not exactly a number goes through `csvCell`.
 */
export function csvNumber(n: string): string {
  return /^-?\d+(\.\d+)?$/.test(n) ? n : csvCell(n);
}
