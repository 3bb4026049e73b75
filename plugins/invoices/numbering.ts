// The firm's number series (invoices, receipts): gap-free and unique however many processes issue
// at once. A number is taken inside the transaction that issues the invoice: the series' counter
// row is locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers on its one
// connection), incremented and used, so a rolled-back issue gives its number back and two issues
// can never read the same counter.
import { isPostgresClient, type Trx } from '../../core/index.ts';

/** The prefix with `{YYYY}` filled in from the issue time (UTC year). */
export function seriesKey(prefix: string, at: number): string {
  return prefix.replace(/\{YYYY\}/g, String(new Date(at).getUTCFullYear()));
}

export function formatNumber(key: string, n: number, padding: number): string {
  return `${key}${String(n).padStart(padding, '0')}`;
}

/** The next number of series `key`, taken in `trx` (held until it commits or rolls back). */
export async function takeNumber(trx: Trx, key: string): Promise<number> {
  // The row exists before it is locked: a concurrent first insert is ignored, not an error.
  await trx('invoices_series').insert({ key, last: 0 }).onConflict('key').ignore();
  const q = trx('invoices_series').where({ key }).first('last');
  const row = (await (isPostgresClient(trx) ? q.forUpdate() : q)) as { last: number | string };
  const next = Number(row.last) + 1;
  await trx('invoices_series').where({ key }).update({ last: next });
  return next;
}
