// The credit note form: what to credit (some of the invoice's lines, a quantity of each, named
// qty-<position>; or an amount with a description and a tax rate) and the reason the client reads.
// Checked on the server; a problem comes back beside its field and nothing is saved.
import { z } from 'zod';
import { fieldErrors, singleLine } from '../../core/index.ts';
import { formatQuantity, minorDigits, parseAmount, parseDecimal } from './money.ts';
import type { CreditInput, CreditLine } from './credit-notes.ts';
import type { Parsed } from './forms.ts';
import type { LineRow } from './service.ts';

const MAX_MINOR = 1e13;

export const creditHead = z.object({
  kind: z.enum(['lines', 'amount'], { error: 'Choose what to credit' }),
  reason: singleLine({ max: 300, min: 1, required: 'Say why you are crediting this invoice: the client reads it' }),
});
const amountDescription = singleLine({ max: 300, min: 1, required: 'Describe what this credit is for' });

export interface CreditValues {
  kind: string;
  reason: string;
  description: string;
  amount: string;
  taxRate: string;
  /** Typed quantities by invoice line position. */
  qty: Record<number, string>;
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');

export function creditValues(body: Record<string, unknown>): CreditValues {
  const qty: Record<number, string> = {};
  for (const k of Object.keys(body)) {
    const m = /^qty-(\d{1,3})$/.exec(k);
    if (m) qty[Number(m[1])] = str(body[k]);
  }
  return { kind: str(body.kind) || 'lines', reason: str(body.reason), description: str(body.description), amount: str(body.amount), taxRate: str(body.taxRate), qty };
}

/** The credit note from the form: lines of the invoice (`left` is what is left of each), or one amount line. */
export function parseCredit(v: CreditValues, invoiceLines: LineRow[], left: Map<string, number>, currency: string): Parsed<CreditInput> {
  const head = creditHead.safeParse({ kind: v.kind, reason: v.reason });
  const errors: Record<string, string> = head.success ? {} : fieldErrors(head.error);
  const lines: CreditLine[] = [];
  if (v.kind === 'amount') {
    const d = amountDescription.safeParse(v.description);
    if (!d.success) errors.description = d.error.issues[0]?.message ?? 'Describe what this credit is for';
    const a = parseAmount(v.amount, currency);
    if (a === null || a <= 0 || a > MAX_MINOR) errors.amount = minorDigits(currency) ? `Use an amount above zero with at most ${minorDigits(currency)} decimals, like 50.00` : `Use a whole amount above zero (${currency} has no decimals)`;
    const t = parseDecimal(v.taxRate || '0', 2);
    if (t === null || t > 10_000n) errors.taxRate = 'Use a rate from 0 to 100, like 20 or 7.5';
    if (d.success && a !== null && a > 0 && a <= MAX_MINOR && t !== null && t <= 10_000n) lines.push({ invoiceLineId: null, description: d.data, quantity: 1000, unitPrice: a, taxRate: Number(t), discount: 0 });
  } else {
    for (const l of invoiceLines) {
      const raw = (v.qty[l.position] ?? '').trim();
      if (!raw || raw === '0') continue;
      const q = parseDecimal(raw, 3);
      const max = left.get(l.id) ?? 0;
      if (q === null || q <= 0n) errors[`qty-${l.position}`] = 'Use a quantity above 0 with at most 3 decimals, like 1.5';
      else if (Number(q) > max) errors[`qty-${l.position}`] = max > 0 ? `At most ${formatQuantity(max)}: that is what is left of this line` : 'Nothing is left to credit of this line';
      else lines.push({ invoiceLineId: l.id, description: l.description, quantity: Number(q), unitPrice: l.unitPrice, taxRate: l.taxRate, discount: l.discount });
    }
    if (!lines.length && !Object.keys(errors).some((k) => k.startsWith('qty-'))) errors.lines = 'Type the quantity to credit of at least one line.';
  }
  if (!head.success || Object.keys(errors).length) return { ok: false, errors };
  return { ok: true, value: { reason: head.data.reason, lines } };
}
