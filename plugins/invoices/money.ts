// Money for invoices: amounts are integers in a currency's minor unit (cents, fils, yen), never
// floats. Quantities are integer thousandths (up to three decimals), tax rates and discounts are
// integer basis points (20% = 2000). Every product is computed exactly with BigInt and rounded
// once, per line, half away from zero ("commercial rounding"); invoice totals are sums of the
// rounded lines, so the lines always add up to the total a client reads. See docs/invoices.md.

/** ISO 4217 minor-unit digits of the currencies an invoice may be in. */
export const CURRENCIES: Record<string, number> = {
  AED: 2, AUD: 2, BGN: 2, BHD: 3, BRL: 2, CAD: 2, CHF: 2, CLP: 0, CNY: 2, CZK: 2, DKK: 2, EUR: 2, GBP: 2,
  HKD: 2, HUF: 2, IDR: 2, ILS: 2, INR: 2, IQD: 3, ISK: 0, JOD: 3, JPY: 0, KRW: 0, KWD: 3, LYD: 3, MXN: 2,
  MYR: 2, NOK: 2, NZD: 2, OMR: 3, PHP: 2, PLN: 2, RON: 2, SAR: 2, SEK: 2, SGD: 2, THB: 2, TND: 3, TRY: 2,
  TWD: 2, UGX: 0, USD: 2, VND: 0, XAF: 0, XOF: 0, ZAR: 2,
};

export const CURRENCY_CODES = Object.keys(CURRENCIES).sort();

export function minorDigits(currency: string): number {
  const d = CURRENCIES[currency];
  if (d === undefined) throw new Error(`unknown currency ${currency}`);
  return d;
}

/** n / d rounded half away from zero (d > 0). */
export function roundDiv(n: bigint, d: bigint): bigint {
  const neg = n < 0n;
  const a = neg ? -n : n;
  const q = (2n * a + d) / (2n * d);
  return neg ? -q : q;
}

/** A decimal string with at most `digits` decimals as an integer scaled by 10^digits, or null. */
export function parseDecimal(raw: string, digits: number, opts: { negative?: boolean } = {}): bigint | null {
  const s = raw.trim().replace(/[\s,]/g, '');
  const re = opts.negative ? /^(-)?(\d+)(?:\.(\d+))?$/ : /^()(\d+)(?:\.(\d+))?$/;
  const m = re.exec(s);
  if (!m) return null;
  const frac = m[3] ?? '';
  if (frac.length > digits) return null;
  const v = BigInt(m[2]! + frac.padEnd(digits, '0'));
  return m[1] ? -v : v;
}

/** An amount typed in major units ("12.50", "-3", "1,200.005") as minor units, or null. */
export function parseAmount(raw: string, currency: string, opts: { negative?: boolean } = {}): number | null {
  const v = parseDecimal(raw, minorDigits(currency), opts);
  return v === null ? null : Number(v);
}

/** Integer `scaled` with `digits` implied decimals as a plain decimal string ("1234.5" -> "1234.50"). */
export function decimalString(scaled: number | bigint, digits: number, opts: { group?: boolean; trim?: boolean } = {}): string {
  const v = BigInt(scaled);
  const neg = v < 0n;
  const s = (neg ? -v : v).toString().padStart(digits + 1, '0');
  let int = s.slice(0, s.length - digits);
  let frac = digits ? s.slice(s.length - digits) : '';
  if (opts.trim) frac = frac.replace(/0+$/, '');
  if (opts.group) int = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

/** "EUR 1,234.50", "JPY 1,200", "KWD 0.125": the code, never a symbol (plain in every font and mail). */
export function formatMoney(minor: number, currency: string): string {
  return `${currency} ${decimalString(minor, minorDigits(currency), { group: true })}`;
}

/** Quantity (thousandths) as typed: 1500 -> "1.5". */
export const formatQuantity = (thousandths: number) => decimalString(thousandths, 3, { trim: true, group: true });
/** Basis points as a percentage: 2000 -> "20", 725 -> "7.25". */
export const formatRate = (bp: number) => decimalString(bp, 2, { trim: true });

export type TaxMode = 'exclusive' | 'inclusive';

export interface LineInput {
  /** Thousandths of a unit: 1.5 hours = 1500. */
  quantity: number;
  /** Minor units per unit: net of tax when exclusive, including tax when inclusive. */
  unitPrice: number;
  /** Basis points. */
  taxRate: number;
  /** Basis points off the line. */
  discount: number;
}

export interface LineAmounts {
  /** The line before tax, after the discount. */
  net: number;
  tax: number;
  /** net + tax. */
  total: number;
}

/**
 * One line. Exclusive: net = round(quantity x price x (1 - discount)), tax = round(net x rate).
 * Inclusive: total = round(quantity x price x (1 - discount)), tax = round(total x rate / (1 + rate)),
 * net = total - tax. Each value is rounded once, from the exact product, half away from zero.
 */
export function lineAmounts(line: LineInput, mode: TaxMode): LineAmounts {
  const q = BigInt(line.quantity);
  const p = BigInt(line.unitPrice);
  const keep = 10_000n - BigInt(line.discount);
  const rate = BigInt(line.taxRate);
  const amount = roundDiv(q * p * keep, 1000n * 10_000n);
  if (mode === 'exclusive') {
    const tax = roundDiv(amount * rate, 10_000n);
    return { net: Number(amount), tax: Number(tax), total: Number(amount + tax) };
  }
  const tax = roundDiv(amount * rate, 10_000n + rate);
  return { net: Number(amount - tax), tax: Number(tax), total: Number(amount) };
}

export interface Totals {
  subtotal: number;
  tax: number;
  total: number;
  /** Tax by rate, for the summary: [{ rate (bp), net, tax }], highest rate first. */
  byRate: Array<{ rate: number; net: number; tax: number }>;
  lines: LineAmounts[];
}

/** The invoice's totals: sums of the rounded lines (never re-rounded). */
export function invoiceTotals(lines: LineInput[], mode: TaxMode): Totals {
  const amounts = lines.map((l) => lineAmounts(l, mode));
  const byRate = new Map<number, { rate: number; net: number; tax: number }>();
  let subtotal = 0;
  let tax = 0;
  amounts.forEach((a, i) => {
    subtotal += a.net;
    tax += a.tax;
    const r = lines[i]!.taxRate;
    const b = byRate.get(r) ?? { rate: r, net: 0, tax: 0 };
    b.net += a.net;
    b.tax += a.tax;
    byRate.set(r, b);
  });
  return { subtotal, tax, total: subtotal + tax, byRate: [...byRate.values()].sort((a, b) => b.rate - a.rate), lines: amounts };
}
