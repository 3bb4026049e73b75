// View models for the invoice pages, built field by field from rows (never a row spread): what a
// reader of the invoice may see. Money is formatted here, in the invoice's currency.
import { CURRENCIES, formatMoney, formatQuantity, formatRate, invoiceTotals, lineAmounts, type TaxMode } from './money.ts';
import { blankLine, previewLine, type EditorValues } from './forms.ts';
import { isOverdue, owedOf, type InvoiceRow, type LineRow, type Method, type PaymentRow, type Status } from './service.ts';

export const STATUS_LABELS: Record<Status, string> = { draft: 'Draft', issued: 'Issued', viewed: 'Viewed', partially_paid: 'Partly paid', paid: 'Paid', void: 'Void' };
const STATUS_TONES: Record<Status, string> = { draft: 'neutral', issued: 'info', viewed: 'info', partially_paid: 'warning', paid: 'success', void: 'neutral' };
export const METHOD_LABELS: Record<Method, string> = { bank_transfer: 'Bank transfer', cheque: 'Cheque', cash: 'Cash', online: 'Paid online' };

export function summary(r: InvoiceRow, href: string, now: number) {
  return {
    href,
    title: r.number ?? 'Draft invoice',
    status: r.status,
    statusLabel: STATUS_LABELS[r.status],
    tone: STATUS_TONES[r.status],
    overdue: isOverdue(r, now),
    total: formatMoney(r.total, r.currency),
    due: r.status === 'void' || r.status === 'draft' ? null : formatMoney(Math.max(0, owedOf(r)), r.currency),
    issuedAt: r.issued_at,
    dueAt: r.due_at,
    createdAt: r.created_at,
  };
}

export function detail(r: InvoiceRow, lines: LineRow[], payments: PaymentRow[], base: string, now: number) {
  const money = (m: number) => formatMoney(m, r.currency);
  const totals = invoiceTotals(lines, r.tax_mode);
  return {
    ...summary(r, `${base}/i/${r.id}`, now),
    id: r.id,
    number: r.number,
    draft: r.status === 'draft',
    open: ['issued', 'viewed', 'partially_paid'].includes(r.status),
    currency: r.currency,
    inclusive: r.tax_mode === 'inclusive',
    termsDays: r.terms_days,
    viewedAt: r.viewed_at,
    paidAt: r.paid_at,
    voidedAt: r.voided_at,
    voidReason: r.void_reason,
    lines: lines.map((l) => ({
      description: l.description,
      quantity: formatQuantity(l.quantity),
      unitPrice: money(l.unitPrice),
      taxRate: `${formatRate(l.taxRate)}%`,
      discount: l.discount ? `${formatRate(l.discount)}%` : null,
      amount: money(r.tax_mode === 'inclusive' ? l.total : l.net),
    })),
    subtotal: money(r.subtotal),
    taxes: totals.byRate.filter((t) => t.rate > 0 || totals.byRate.length > 1).map((t) => ({ label: `Tax ${formatRate(t.rate)}%`, value: money(t.tax) })),
    taxTotal: money(r.tax_total),
    grandTotal: money(r.total),
    paid: money(r.paid_total),
    hasPaid: r.paid_total !== 0,
    outstanding: money(Math.max(0, owedOf(r))),
    credited: money(r.credited_total),
    hasCredited: r.credited_total !== 0,
    /** Credit notes took off more than was left to pay: the firm owes the difference back. */
    toRefund: owedOf(r) < 0 ? money(-owedOf(r)) : null,
    notes: r.notes,
    terms: r.terms,
    paymentDetails: r.payment_details,
    paymentLines: r.payment_details.split('\n'),
    noteLines: r.notes.split('\n'),
    termLines: r.terms.split('\n'),
    sha256: r.pdf_sha256,
    pdfHref: r.pdf_key ? `${base}/i/${r.id}/pdf` : null,
    payments: payments.map((p) => ({
      receipt: p.receipt_number,
      amount: money(p.amount),
      refund: p.amount < 0,
      method: METHOD_LABELS[p.method],
      reference: p.reference,
      receivedAt: p.received_at,
      href: `${base}/i/${r.id}/receipts/${p.id}`,
    })),
  };
}

/** The editor's rows with their amounts where a row can be read, and the totals of those rows. */
export function editorModel(values: EditorValues, mode: TaxMode, errors: Record<string, string>, defaultTaxRate: string) {
  const currency = values.currency;
  const known = Object.hasOwn(CURRENCIES, currency);
  const rows = (values.lines.length ? values.lines : [blankLine(defaultTaxRate)]).map((l, i) => {
    const parsed = known ? previewLine(l, currency) : null;
    const amounts = parsed ? lineAmounts(parsed, mode) : null;
    return {
      i,
      ...l,
      amount: amounts ? formatMoney(mode === 'inclusive' ? amounts.total : amounts.net, currency) : '—',
      errors: { description: errors[`line-${i}-description`], quantity: errors[`line-${i}-quantity`], unitPrice: errors[`line-${i}-unitPrice`], taxRate: errors[`line-${i}-taxRate`], discount: errors[`line-${i}-discount`] },
      parsed,
    };
  });
  const good = rows.flatMap((r) => (r.parsed ? [r.parsed] : []));
  const t = known ? invoiceTotals(good, mode) : null;
  return {
    rows: rows.map(({ parsed: _p, ...r }) => r),
    totals: t
      ? {
          items: [
            { key: mode === 'inclusive' ? 'Net' : 'Subtotal', value: formatMoney(t.subtotal, currency) },
            ...t.byRate.filter((b) => b.rate > 0).map((b) => ({ key: `Tax ${formatRate(b.rate)}%`, value: formatMoney(b.tax, currency) })),
            { key: 'Total', value: formatMoney(t.total, currency) },
          ],
          partial: good.length < rows.filter((r) => r.description || r.unitPrice).length,
        }
      : null,
  };
}
