// The statement of account's entries: what changed what a client owes, per currency. Each kind of
// entry is a `LedgerSource` (invoices issued, invoices voided, credit notes, payments and refunds);
// a new kind is one more source in `LEDGER_SOURCES`, and the statement, its CSV and its PDF
// follow. A source answers two questions, both through the invoices the person may read:
//   - balances: per currency, the sum of its entries before the period (the opening balance's
//     share) for every currency it has entries in before the period ends (one aggregate query);
//   - entries: its entries of one currency in the period, in time order, in keyset pages.
// Amounts are signed minor units: positive adds to what is owed (an invoice, a refund), negative
// takes from it (a payment, a void, a credit note).
import type { Knex } from 'knex';
import { afterKey, mergeSorted, pagedByTime, type Db, type TimeKey, type Trx } from '../../core/index.ts';
import { dayOf, type Period } from './pack-period.ts';
import { METHOD_LABELS } from './views.ts';
import type { Method } from './service.ts';

export interface LedgerQuery {
  db: Db | Trx;
  workspaceId: string;
  period: Period;
  /** The reader's row filter on invoices (`accessibleBy(ability, 'read', 'Invoice', i.<field>)`), applied to alias `i`. */
  invoices: (qb: Knex.QueryBuilder) => void;
}

export interface LedgerEntry {
  id: string;
  at: number;
  /** The day it is listed on (`YYYY-MM-DD`). */
  day: string;
  /** Order of kinds on the same day: invoices before voids, credits before payments. */
  rank: number;
  /** What it is: `Invoice`, `Invoice voided`, `Credit note`, `Payment`, `Refund`. */
  entry: string;
  /** Its number: the invoice's, the credit note's or the receipt's. */
  reference: string;
  description: string;
  /** Signed minor units: positive adds to what is owed. */
  amount: number;
}

export interface LedgerSource {
  id: string;
  balances(q: LedgerQuery): Promise<Array<{ currency: string; before: number }>>;
  entries(q: LedgerQuery, currency: string): AsyncIterable<LedgerEntry>;
}

const key = (r: Record<string, unknown>): TimeKey => ({ at: Number(r.at), id: String(r.id) });
const invoicesOf = (q: LedgerQuery) => q.db('invoices_invoices as i').where('i.workspace_id', q.workspaceId).modify(q.invoices);
const creditNotesOf = (q: LedgerQuery) =>
  q
    .db('invoices_credit_notes as c')
    .join('invoices_invoices as i', function () {
      this.on('i.id', '=', 'c.invoice_id').andOn('i.workspace_id', '=', 'c.workspace_id');
    })
    .where('c.workspace_id', q.workspaceId)
    .modify(q.invoices);

/** Invoices, on the day they were issued, for their total (void ones too: their void is its own entry). */
export const issuedSource: LedgerSource = {
  id: 'invoices.issued',
  async balances(q) {
    const rows = (await invoicesOf(q)
      .whereNotNull('i.issued_at')
      .where('i.issued_at', '<', q.period.to)
      .groupBy('i.currency')
      .select('i.currency', q.db.raw('sum(case when i.issued_at < ? then i.total else 0 end) as before', [q.period.from]))) as Array<{ currency: string; before: number | string | null }>;
    return rows.map((r) => ({ currency: r.currency, before: Number(r.before ?? 0) }));
  },
  entries(q, currency) {
    const tz = q.period.timeZone;
    return pagedByTime(
      (after, limit) =>
        invoicesOf(q)
          .where('i.issued_at', '>=', q.period.from)
          .where('i.issued_at', '<', q.period.to)
          .where('i.currency', currency)
          .modify(afterKey('i.issued_at', 'i.id', after))
          .orderBy('i.issued_at')
          .orderBy('i.id')
          .limit(limit)
          .select('i.id', 'i.issued_at as at', 'i.number', 'i.total', 'i.due_at') as Promise<Array<Record<string, unknown>>>,
      key,
      (r) => ({ id: String(r.id), at: Number(r.at), day: dayOf(Number(r.at), tz), rank: 0, entry: 'Invoice', reference: String(r.number), description: r.due_at == null ? '' : `Due ${dayOf(Number(r.due_at), tz)}`, amount: Number(r.total) }),
    );
  },
};

/** A void takes the invoice's total back, on the day it was voided. */
export const voidedSource: LedgerSource = {
  id: 'invoices.voided',
  async balances(q) {
    const rows = (await invoicesOf(q)
      .where('i.status', 'void')
      .where('i.voided_at', '<', q.period.to)
      .groupBy('i.currency')
      .select('i.currency', q.db.raw('sum(case when i.voided_at < ? then -i.total else 0 end) as before', [q.period.from]))) as Array<{ currency: string; before: number | string | null }>;
    return rows.map((r) => ({ currency: r.currency, before: Number(r.before ?? 0) }));
  },
  entries(q, currency) {
    const tz = q.period.timeZone;
    return pagedByTime(
      (after, limit) =>
        invoicesOf(q)
          .where('i.status', 'void')
          .where('i.voided_at', '>=', q.period.from)
          .where('i.voided_at', '<', q.period.to)
          .where('i.currency', currency)
          .modify(afterKey('i.voided_at', 'i.id', after))
          .orderBy('i.voided_at')
          .orderBy('i.id')
          .limit(limit)
          .select('i.id', 'i.voided_at as at', 'i.number', 'i.total', 'i.void_reason') as Promise<Array<Record<string, unknown>>>,
      key,
      (r) => ({ id: String(r.id), at: Number(r.at), day: dayOf(Number(r.at), tz), rank: 1, entry: 'Invoice voided', reference: String(r.number), description: r.void_reason ? `Reason: ${String(r.void_reason)}` : '', amount: -Number(r.total) }),
    );
  },
};

/**
 * A credit note takes its total off what is owed, on the day it was issued. It never meets a void:
 * only an issued invoice with no credit note can be voided, and a void one cannot be credited
 * (service.ts, credit-notes.ts), so the invoice's total comes back once at most, and a fully
 * credited invoice nets to zero (its total, then credit notes summing to it).
 * A credit note is in the invoice's currency and only as visible as its invoice: the reader's
 * invoice filter applies to the joined invoice.
 */
export const creditNotesSource: LedgerSource = {
  id: 'invoices.creditNotes',
  async balances(q) {
    const rows = (await creditNotesOf(q)
      .where('c.issued_at', '<', q.period.to)
      .groupBy('c.currency')
      .select('c.currency', q.db.raw('sum(case when c.issued_at < ? then -c.total else 0 end) as before', [q.period.from]))) as Array<{ currency: string; before: number | string | null }>;
    return rows.map((r) => ({ currency: r.currency, before: Number(r.before ?? 0) }));
  },
  entries(q, currency) {
    const tz = q.period.timeZone;
    return pagedByTime(
      (after, limit) =>
        creditNotesOf(q)
          .where('c.issued_at', '>=', q.period.from)
          .where('c.issued_at', '<', q.period.to)
          .where('c.currency', currency)
          .modify(afterKey('c.issued_at', 'c.id', after))
          .orderBy('c.issued_at')
          .orderBy('c.id')
          .limit(limit)
          .select('c.id', 'c.issued_at as at', 'c.number', 'c.total', 'c.reason', 'i.number as invoice') as Promise<Array<Record<string, unknown>>>,
      key,
      (r) => ({ id: String(r.id), at: Number(r.at), day: dayOf(Number(r.at), tz), rank: 2, entry: 'Credit note', reference: String(r.number), description: `On invoice ${String(r.invoice)}. Reason: ${String(r.reason)}`, amount: -Number(r.total) }),
    );
  },
};

/** Payments (and refunds, negative payments) on the day they were received. */
export const paymentsSource: LedgerSource = {
  id: 'invoices.payments',
  async balances(q) {
    const rows = (await q
      .db('invoices_payments as p')
      .join('invoices_invoices as i', function () {
        this.on('i.id', '=', 'p.invoice_id').andOn('i.workspace_id', '=', 'p.workspace_id');
      })
      .where('p.workspace_id', q.workspaceId)
      .modify(q.invoices)
      .where('p.received_at', '<', q.period.dayTo)
      .groupBy('i.currency')
      .select('i.currency', q.db.raw('sum(case when p.received_at < ? then -p.amount else 0 end) as before', [q.period.dayFrom]))) as Array<{ currency: string; before: number | string | null }>;
    return rows.map((r) => ({ currency: r.currency, before: Number(r.before ?? 0) }));
  },
  entries(q, currency) {
    return pagedByTime(
      (after, limit) =>
        q
          .db('invoices_payments as p')
          .join('invoices_invoices as i', function () {
            this.on('i.id', '=', 'p.invoice_id').andOn('i.workspace_id', '=', 'p.workspace_id');
          })
          .where('p.workspace_id', q.workspaceId)
          .modify(q.invoices)
          .where('p.received_at', '>=', q.period.dayFrom)
          .where('p.received_at', '<', q.period.dayTo)
          .where('i.currency', currency)
          .modify(afterKey('p.received_at', 'p.id', after))
          .orderBy('p.received_at')
          .orderBy('p.id')
          .limit(limit)
          .select('p.id', 'p.received_at as at', 'p.receipt_number', 'p.amount', 'p.method', 'p.reference', 'i.number') as Promise<Array<Record<string, unknown>>>,
      key,
      (r) => {
        const refund = Number(r.amount) < 0;
        const how = METHOD_LABELS[String(r.method) as Method] ?? String(r.method);
        return {
          id: String(r.id),
          at: Number(r.at),
          // A day received is a date, stored as UTC midnight: read in UTC, whatever the zone.
          day: new Date(Number(r.at)).toISOString().slice(0, 10),
          rank: 3,
          entry: refund ? 'Refund' : 'Payment',
          reference: String(r.receipt_number),
          description: `${how}${refund ? ' refunded' : ''} for invoice ${String(r.number)}${r.reference ? `, reference ${String(r.reference)}` : ''}`,
          amount: -Number(r.amount),
        };
      },
    );
  },
};

/** Every kind of entry on the statement. */
export const LEDGER_SOURCES: LedgerSource[] = [issuedSource, voidedSource, creditNotesSource, paymentsSource];

export interface CurrencySection {
  currency: string;
  opening: number;
  /** The period's entries in order (a fresh stream each call: the CSV and the PDF each read it). */
  entries(): AsyncGenerator<LedgerEntry>;
}

const order = (a: LedgerEntry, b: LedgerEntry) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.rank - b.rank || a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

/** One section per currency with history before the period's end, by currency code. */
export async function statementSections(q: LedgerQuery, sources: LedgerSource[] = LEDGER_SOURCES): Promise<CurrencySection[]> {
  const opening = new Map<string, number>();
  for (const s of sources) for (const b of await s.balances(q)) opening.set(b.currency, (opening.get(b.currency) ?? 0) + b.before);
  return [...opening.keys()].sort().map((currency) => ({
    currency,
    opening: opening.get(currency)!,
    entries: () => mergeSorted(sources.map((s) => s.entries(q, currency)), order),
  }));
}
