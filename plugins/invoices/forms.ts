// The invoice forms: the draft editor (invoice fields and a variable number of lines, named
// line-<n>-<field>), a payment, a void. Everything is checked on the server; a problem comes back
// beside its field and nothing is saved.
import { z } from 'zod';
import { fieldErrors, multiLine, singleLine } from '../../core/index.ts';
import { CURRENCY_CODES, minorDigits, parseAmount, parseDecimal, type LineInput } from './money.ts';
import { METHODS, type DraftInput, type DraftLine, type PaymentInput } from './service.ts';

export const LINE_FIELDS = ['description', 'quantity', 'unitPrice', 'taxRate', 'discount'] as const;
export type LineValues = Record<(typeof LINE_FIELDS)[number], string>;
/** Largest amount on a line or an invoice, in minor units (keeps sums exact as JavaScript numbers). */
const MAX_MINOR = 1e13;

const headForm = z.object({
  currency: z.enum(CURRENCY_CODES as [string, ...string[]], { error: 'Choose a currency' }),
  termsDays: z.enum(['0', '15', '30', 'custom'], { error: 'Choose the payment terms' }),
  customDays: z.string().regex(/^\s*\d{0,3}\s*$/, 'Use a number of days from 1 to 365').optional().default(''),
  notes: multiLine({ max: 2000 }).optional().default(''),
  terms: multiLine({ max: 2000 }).optional().default(''),
});

const description = singleLine({ max: 300, min: 1, required: 'Describe what this line is for' });

/** The editor's values as typed: invoice fields and each line's fields, in row order. */
export interface EditorValues {
  currency: string;
  termsDays: string;
  customDays: string;
  notes: string;
  terms: string;
  lines: LineValues[];
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');

export function editorValues(body: Record<string, unknown>): EditorValues {
  const idx = new Set<number>();
  for (const k of Object.keys(body)) {
    const m = /^line-(\d{1,3})-(description|quantity|unitPrice|taxRate|discount)$/.exec(k);
    if (m) idx.add(Number(m[1]));
  }
  const lines = [...idx].sort((a, b) => a - b).map((i) => Object.fromEntries(LINE_FIELDS.map((f) => [f, str(body[`line-${i}-${f}`])])) as LineValues);
  return { currency: str(body.currency), termsDays: str(body.termsDays), customDays: str(body.customDays), notes: str(body.notes), terms: str(body.terms), lines };
}

export const blankLine = (taxRate: string): LineValues => ({ description: '', quantity: '1', unitPrice: '', taxRate, discount: '' });
const isBlank = (l: LineValues) => !l.description.trim() && !l.unitPrice.trim();

const example = (currency: string) => ({ 0: '1200', 2: '120.00', 3: '12.500' })[minorDigits(currency) as 0 | 2 | 3] ?? '120.00';

/** One line, or its problems by field. */
function parseLine(l: LineValues, currency: string): { line?: DraftLine; errors: Partial<Record<keyof LineValues, string>> } {
  const errors: Partial<Record<keyof LineValues, string>> = {};
  const d = description.safeParse(l.description);
  if (!d.success) errors.description = d.error.issues[0]?.message ?? 'Describe what this line is for';
  const q = parseDecimal(l.quantity, 3);
  if (q === null || q <= 0n || q > 1_000_000_000n) errors.quantity = 'Use a quantity above 0 with at most 3 decimals, like 1.5';
  const digits = minorDigits(currency);
  const p = parseAmount(l.unitPrice, currency);
  if (p === null || p > MAX_MINOR) errors.unitPrice = digits ? `Use an amount with at most ${digits} decimals, like ${example(currency)}` : `Use a whole amount (${currency} has no decimals), like ${example(currency)}`;
  const t = parseDecimal(l.taxRate || '0', 2);
  if (t === null || t > 10_000n) errors.taxRate = 'Use a rate from 0 to 100, like 20 or 7.5';
  const disc = parseDecimal(l.discount || '0', 2);
  if (disc === null || disc > 10_000n) errors.discount = 'Use a discount from 0 to 100 percent';
  if (Object.keys(errors).length) return { errors };
  const line: LineInput = { quantity: Number(q), unitPrice: p!, taxRate: Number(t), discount: Number(disc) };
  if ((BigInt(line.quantity) * BigInt(line.unitPrice)) / 1000n > BigInt(MAX_MINOR)) return { errors: { unitPrice: 'This line is too large: split it into several lines' } };
  return { line: { ...line, description: d.data! }, errors };
}

/** A row's numbers when they can be read (the editor shows its amount), whatever its description. */
export function previewLine(l: LineValues, currency: string): LineInput | null {
  const r = parseLine({ ...l, description: 'x' }, currency);
  return r.line ?? null;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: Record<string, string> };

/** The draft from the editor; blank rows are dropped. */
export function parseDraft(v: EditorValues, maxLines: number): Parsed<DraftInput> {
  const head = headForm.safeParse({ currency: v.currency, termsDays: v.termsDays, customDays: v.customDays, notes: v.notes, terms: v.terms });
  const errors: Record<string, string> = head.success ? {} : fieldErrors(head.error);
  let termsDays = 30;
  if (head.success) {
    if (head.data.termsDays === 'custom') {
      const n = Number(head.data.customDays.trim());
      if (!head.data.customDays.trim() || !Number.isInteger(n) || n < 1 || n > 365) errors.customDays = 'Use a number of days from 1 to 365';
      else termsDays = n;
    } else termsDays = Number(head.data.termsDays);
  }
  const currency = head.success ? head.data.currency : 'EUR';
  const lines: DraftLine[] = [];
  v.lines.forEach((l, i) => {
    if (isBlank(l)) return;
    const r = parseLine(l, currency);
    for (const [f, m] of Object.entries(r.errors)) errors[`line-${i}-${f}`] = m!;
    if (r.line) lines.push(r.line);
  });
  if (v.lines.filter((l) => !isBlank(l)).length > maxLines) errors.lines = `An invoice can have at most ${maxLines} lines.`;
  if (!head.success || Object.keys(errors).length) return { ok: false, errors };
  return { ok: true, value: { currency, termsDays, notes: head.data.notes, terms: head.data.terms, lines } };
}

export const paymentForm = z.strictObject({
  amount: z.string().regex(/^\s*-?[\d,]{1,20}(\.\d{1,3})?\s*$/, 'Use an amount like 120.00 (a refund is negative: -120.00)'),
  method: z.enum(METHODS, { error: 'Choose how it was paid' }),
  reference: singleLine({ max: 200 }).optional().default(''),
  received: z.iso.date({ error: 'Use a date like 2026-12-04' }),
});

export function parsePayment(body: Record<string, unknown>, currency: string): Parsed<PaymentInput> {
  const r = paymentForm.safeParse(body);
  if (!r.success) return { ok: false, errors: fieldErrors(r.error) };
  const amount = parseAmount(r.data.amount, currency, { negative: true });
  if (amount === null || amount === 0 || Math.abs(amount) > MAX_MINOR) {
    const digits = minorDigits(currency);
    return { ok: false, errors: { amount: amount === 0 ? 'Enter an amount other than zero' : `Use an amount with at most ${digits} decimals (${currency}); a refund is negative` } };
  }
  return { ok: true, value: { amount, method: r.data.method, reference: r.data.reference, receivedAt: Date.parse(`${r.data.received}T00:00:00.000Z`) } };
}

export const voidForm = z.strictObject({ reason: singleLine({ max: 300, min: 1, required: 'Say why the invoice is void: the client reads it' }) });
