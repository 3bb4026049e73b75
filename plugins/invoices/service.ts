// The invoice workflow: drafts (made and edited by staff), issue (a number from the firm's series,
// the PDF rendered and stored encrypted, the client told), the first client view, payments
// recorded by staff (refunds are negative), void. Every transition is one transaction with its
// audit event and its event (delivered after commit); an issued invoice is never edited again.
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { AtriumError, newId, transaction, type ApprovableRegistry, type AuditEntry, type Db, type Token, type Tokens, type Trx } from '../../core/index.ts';
import { formatMoney, formatQuantity, formatRate, invoiceTotals, type LineInput, type TaxMode } from './money.ts';
import { formatNumber, seriesKey, takeNumber } from './numbering.ts';
import { pdfLogo } from './logo.ts';
import { renderInvoicePdf, type InvoicePdf } from './pdf.ts';
import type { InvoicesSettings } from './settings.ts';
import { workspaceSettings } from './workspace-settings.ts';

type Service<K extends keyof typeof Tokens> = (typeof Tokens)[K] extends Token<infer T> ? T : never;

export interface InvoicesDeps {
  db: Db;
  audit: Service<'Audit'>;
  events: Service<'Events'>;
  storage: Service<'Storage'>;
  branding: Service<'Branding'>;
  notifications: Service<'Notifications'>;
  approvables: ApprovableRegistry;
  clock: { now(): number };
  logger: Logger;
  settings: InvoicesSettings;
}

export type Actor = Pick<AuditEntry, 'actorId' | 'ip' | 'userAgent'>;
export type Ws = { id: string; slug: string; name: string };

export const STATUSES = ['draft', 'issued', 'viewed', 'partially_paid', 'paid', 'void'] as const;
export type Status = (typeof STATUSES)[number];
/** Issued and not settled: what a client still owes (overdue once past the due date). */
export const OPEN: readonly Status[] = ['issued', 'viewed', 'partially_paid'];
export const METHODS = ['bank_transfer', 'cheque', 'cash'] as const;
/** `online`: confirmed by a payment provider (online.ts), never chosen by staff in the form. */
export type Method = (typeof METHODS)[number] | 'online';

export interface DraftLine extends LineInput {
  description: string;
}

export interface DraftInput {
  currency: string;
  termsDays: number;
  notes: string;
  terms: string;
  lines: DraftLine[];
}

export interface InvoiceRow {
  id: string;
  workspace_id: string;
  status: Status;
  number: string | null;
  label: string;
  currency: string;
  tax_mode: TaxMode;
  terms_days: number;
  notes: string;
  terms: string;
  payment_details: string;
  subtotal: number;
  tax_total: number;
  total: number;
  paid_total: number;
  /** The sum of its credit notes (credit-notes.ts). */
  credited_total: number;
  issued_at: number | null;
  due_at: number | null;
  viewed_at: number | null;
  paid_at: number | null;
  voided_at: number | null;
  void_reason: string | null;
  pdf_key: string | null;
  pdf_sha256: string | null;
  pdf_size: number | null;
  created_at: number;
  updated_at: number;
}

export interface LineRow extends DraftLine {
  id: string;
  position: number;
  net: number;
  tax: number;
  total: number;
}

export interface PaymentRow {
  id: string;
  receipt_number: string;
  amount: number;
  method: Method;
  reference: string;
  received_at: number;
  recorded_by: string | null;
  recorded_at: number;
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export const INVOICE_COLS = ['id', 'workspace_id', 'status', 'number', 'label', 'currency', 'tax_mode', 'terms_days', 'notes', 'terms', 'payment_details', 'subtotal', 'tax_total', 'total', 'paid_total', 'credited_total', 'issued_at', 'due_at', 'viewed_at', 'paid_at', 'voided_at', 'void_reason', 'pdf_key', 'pdf_sha256', 'pdf_size', 'created_at', 'updated_at'];

export function normInvoice(r: Record<string, unknown>): InvoiceRow {
  return {
    id: String(r.id),
    workspace_id: String(r.workspace_id),
    status: String(r.status) as Status,
    number: r.number == null ? null : String(r.number),
    label: String(r.label),
    currency: String(r.currency),
    tax_mode: String(r.tax_mode) as TaxMode,
    terms_days: Number(r.terms_days),
    notes: String(r.notes ?? ''),
    terms: String(r.terms ?? ''),
    payment_details: String(r.payment_details ?? ''),
    subtotal: Number(r.subtotal),
    tax_total: Number(r.tax_total),
    total: Number(r.total),
    paid_total: Number(r.paid_total),
    credited_total: Number(r.credited_total ?? 0),
    issued_at: num(r.issued_at),
    due_at: num(r.due_at),
    viewed_at: num(r.viewed_at),
    paid_at: num(r.paid_at),
    voided_at: num(r.voided_at),
    void_reason: r.void_reason == null ? null : String(r.void_reason),
    pdf_key: r.pdf_key == null ? null : String(r.pdf_key),
    pdf_sha256: r.pdf_sha256 == null ? null : String(r.pdf_sha256),
    pdf_size: num(r.pdf_size),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
  };
}

/** What is still owed: the total less payments and credit notes (negative: to refund). */
export const owedOf = (r: Pick<InvoiceRow, 'total' | 'paid_total' | 'credited_total'>) => r.total - r.paid_total - r.credited_total;
/** The same in SQL, over `invoices_invoices` (optionally aliased: `i.`). */
export const owedSql = (alias = '') => `${alias}total - ${alias}paid_total - ${alias}credited_total`;

export const isOverdue = (r: Pick<InvoiceRow, 'status' | 'due_at'>, now: number) => OPEN.includes(r.status) && r.due_at !== null && r.due_at < now;

export async function findInvoiceRow(db: Db | Trx, workspaceId: string, id: string): Promise<InvoiceRow | undefined> {
  const r = await db('invoices_invoices').where({ workspace_id: workspaceId, id }).first(INVOICE_COLS);
  return r ? normInvoice(r) : undefined;
}

/** The columns an invoice line and a credit-note line share, read from a row. */
export const lineFields = (r: Record<string, unknown>) => ({
  position: Number(r.position),
  description: String(r.description),
  quantity: Number(r.quantity),
  unitPrice: Number(r.unit_price),
  taxRate: Number(r.tax_rate),
  discount: Number(r.discount),
  net: Number(r.net),
  tax: Number(r.tax),
  total: Number(r.total),
});

export async function linesOf(db: Db | Trx, workspaceId: string, invoiceId: string): Promise<LineRow[]> {
  const rows = (await db('invoices_lines').where({ workspace_id: workspaceId, invoice_id: invoiceId }).orderBy('position')) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    id: String(r.id),
    ...lineFields(r),
  }));
}

export async function paymentsOf(db: Db | Trx, workspaceId: string, invoiceId: string): Promise<PaymentRow[]> {
  const rows = (await db('invoices_payments').where({ workspace_id: workspaceId, invoice_id: invoiceId }).orderBy('recorded_at').orderBy('id')) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    id: String(r.id),
    receipt_number: String(r.receipt_number),
    amount: Number(r.amount),
    method: String(r.method) as Method,
    reference: String(r.reference),
    received_at: Number(r.received_at),
    recorded_by: r.recorded_by == null ? null : String(r.recorded_by),
    recorded_at: Number(r.recorded_at),
  }));
}

/** Thrown for a transition the invoice's state does not allow; the page shows `message`. */
export class Refusal extends Error {}

async function writeLines(trx: Trx, ws: Ws, invoiceId: string, input: DraftInput, mode: TaxMode) {
  const totals = invoiceTotals(input.lines, mode);
  await trx('invoices_lines').where({ workspace_id: ws.id, invoice_id: invoiceId }).delete();
  if (input.lines.length) {
    await trx('invoices_lines').insert(
      input.lines.map((l, i) => ({
        id: newId(),
        workspace_id: ws.id,
        invoice_id: invoiceId,
        position: i + 1,
        description: l.description,
        quantity: l.quantity,
        unit_price: l.unitPrice,
        tax_rate: l.taxRate,
        discount: l.discount,
        net: totals.lines[i]!.net,
        tax: totals.lines[i]!.tax,
        total: totals.lines[i]!.total,
      })),
    );
  }
  return { subtotal: totals.subtotal, tax_total: totals.tax, total: totals.total };
}

export async function createDraft(deps: InvoicesDeps, trx: Trx, ws: Ws, actor: Actor, input: DraftInput): Promise<string> {
  const id = newId();
  const now = deps.clock.now();
  // The workspace's tax mode when it has one (its settings page), else the firm's.
  const mode = (await workspaceSettings(trx, ws.id)).taxMode ?? deps.settings.taxMode;
  await trx('invoices_invoices').insert({
    id,
    workspace_id: ws.id,
    status: 'draft',
    number: null,
    label: 'Draft invoice',
    currency: input.currency,
    tax_mode: mode,
    terms_days: input.termsDays,
    notes: input.notes,
    terms: input.terms,
    payment_details: '',
    subtotal: 0,
    tax_total: 0,
    total: 0,
    paid_total: 0,
    created_by: actor.actorId ?? null,
    created_at: now,
    updated_at: now,
  });
  const totals = await writeLines(trx, ws, id, input, mode);
  await trx('invoices_invoices').where({ workspace_id: ws.id, id }).update(totals);
  await deps.audit.record(trx, { ...actor, workspaceId: ws.id, action: 'invoices.invoice.create', subjectType: 'Invoice', subjectId: id });
  deps.events.publish(trx, 'invoices.invoice.created', { workspaceId: ws.id, invoiceId: id });
  return id;
}

export async function updateDraft(deps: InvoicesDeps, trx: Trx, ws: Ws, actor: Actor, id: string, input: DraftInput): Promise<void> {
  const row = await trx('invoices_invoices').where({ workspace_id: ws.id, id }).first('status', 'tax_mode');
  if (!row) throw new AtriumError('ATR_NOT_FOUND', 'no such invoice', { status: 404 });
  if (row.status !== 'draft') throw new Refusal('This invoice has been issued, so it can no longer be changed.');
  const totals = await writeLines(trx, ws, id, input, String(row.tax_mode) as TaxMode);
  const n = await trx('invoices_invoices')
    .where({ workspace_id: ws.id, id, status: 'draft' })
    .update({ ...totals, currency: input.currency, terms_days: input.termsDays, notes: input.notes, terms: input.terms, updated_at: deps.clock.now() });
  if (!n) throw new Refusal('This invoice has been issued, so it can no longer be changed.');
  await deps.audit.record(trx, { ...actor, workspaceId: ws.id, action: 'invoices.invoice.update', subjectType: 'Invoice', subjectId: id });
  deps.events.publish(trx, 'invoices.invoice.updated', { workspaceId: ws.id, invoiceId: id });
}

/** A day (`d MMM yyyy`) in the firm's time zone: what the PDF and the mail print. */
export function dayIn(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone }).format(ms);
}

export function pdfBind(invoiceId: string): string {
  return `invoices:${invoiceId}:pdf`;
}

/** What the PDF shows for an issued invoice (its rows as stored: rendering again gives the same bytes), or a draft's preview. */
/** Lines as the PDF prints them (an invoice's and a credit note's): the amount column is the net
 *  under exclusive tax and the total under inclusive tax, as the editor shows it. */
export function pdfLines(
  lines: Array<{ description: string; quantity: number; unitPrice: number; taxRate: number; discount: number; net: number; total: number }>,
  taxMode: string,
  amount: (minor: number) => string,
): InvoicePdf['lines'] {
  return lines.map((l) => ({
    description: l.description,
    quantity: formatQuantity(l.quantity),
    unitPrice: amount(l.unitPrice),
    taxRate: `${formatRate(l.taxRate)}%`,
    discount: l.discount ? `${formatRate(l.discount)}%` : '',
    amount: amount(taxMode === 'inclusive' ? l.total : l.net),
  }));
}

export async function pdfModel(deps: InvoicesDeps, db: Db | Trx, ws: { id: string; name: string }, inv: InvoiceRow, lines: LineRow[]): Promise<InvoicePdf> {
  const brand = await deps.branding.get(db);
  const money = (m: number) => formatMoney(m, inv.currency);
  const amount = (m: number) => money(m).slice(inv.currency.length + 1);
  const totals = invoiceTotals(lines, inv.tax_mode);
  const rows: InvoicePdf['totals'] = [{ label: inv.tax_mode === 'inclusive' ? 'Net' : 'Subtotal', value: money(inv.subtotal) }];
  for (const t of totals.byRate) if (t.rate > 0 || totals.byRate.length > 1) rows.push({ label: `Tax ${formatRate(t.rate)}%`, value: money(t.tax) });
  rows.push({ label: 'Total', value: money(inv.total), strong: true });
  const draft = inv.status === 'draft';
  return {
    firm: { name: brand.firmName, address: deps.settings.firmAddress, colour: brand.primary, accent: brand.accent, logo: brand.logo ? await pdfLogo(deps.branding, db, deps.logger) : null },
    draft,
    client: ws.name,
    number: inv.number ?? '',
    // A draft's preview is dated by its last change: nothing in it may depend on the moment it is rendered.
    issuedAt: inv.issued_at ?? inv.updated_at,
    issueDay: inv.issued_at !== null ? dayIn(inv.issued_at, brand.timeZone) : 'Not issued yet',
    dueDay: inv.due_at !== null ? dayIn(inv.due_at, brand.timeZone) : inv.terms_days ? `${inv.terms_days} days after issue` : 'On receipt',
    currency: inv.currency,
    taxLabel: 'Tax',
    lines: pdfLines(lines, inv.tax_mode, amount),
    totals: rows,
    paymentDetails: inv.payment_details,
    notes: inv.notes,
    terms: inv.terms,
  };
}

/**
 * Issue a draft: take the next number of the firm's series in this transaction (locked until it
 * commits), fix the issue and due dates, copy the firm's payment details, render the PDF and
 * store it encrypted, tell the client's people who may read invoices. Returns the number.
 */
export async function issueInvoice(deps: InvoicesDeps, ws: Ws, actor: Actor, id: string): Promise<string> {
  const blobs: Array<Awaited<ReturnType<InvoicesDeps['storage']['put']>>> = [];
  try {
    return await transaction(deps.db, async (trx) => {
      const found = await findInvoiceRow(trx, ws.id, id);
      if (!found) throw new AtriumError('ATR_NOT_FOUND', 'no such invoice', { status: 404 });
      if (found.status !== 'draft') throw new Refusal('This invoice has already been issued.');
      const lines = await linesOf(trx, ws.id, id);
      if (!lines.length) throw new Refusal('Add at least one line before issuing the invoice.');
      if (found.total <= 0) throw new Refusal('The invoice’s total must be more than zero to issue it.');
      const now = deps.clock.now();
      const key = seriesKey(deps.settings.numberPrefix, now);
      const number = formatNumber(key, await takeNumber(trx, key), deps.settings.numberPadding);
      const issued: InvoiceRow = { ...found, status: 'issued', number, label: number, issued_at: now, due_at: now + found.terms_days * 86_400_000, payment_details: deps.settings.paymentDetails };
      const bytes = await renderInvoicePdf(await pdfModel(deps, trx, ws, issued, lines));
      const blob = await deps.storage.put(Readable.from([Buffer.from(bytes)]), { bind: pdfBind(id) });
      blobs.push(blob);
      await deps.storage.record(trx, blob, { plugin: 'invoices', workspaceId: ws.id });
      const n = await trx('invoices_invoices')
        .where({ workspace_id: ws.id, id, status: 'draft' })
        .update({ status: 'issued', number, label: number, issued_at: now, issued_by: actor.actorId ?? null, due_at: issued.due_at, payment_details: issued.payment_details, pdf_key: blob.key, pdf_sha256: blob.sha256, pdf_size: blob.size, updated_at: now });
      if (!n) throw new Refusal('This invoice has already been issued.');
      await deps.audit.record(trx, { ...actor, workspaceId: ws.id, action: 'invoices.invoice.issue', subjectType: 'Invoice', subjectId: id, detail: { number, total: issued.total, currency: issued.currency, sha256: blob.sha256 } });
      const brand = await deps.branding.get(trx);
      const readers = (await deps.approvables.peopleWhoCan(trx, ws.id, 'read', 'Invoice')).filter((p) => !p.staff);
      await deps.notifications.notify(
        trx,
        readers.map((p) => ({
          userId: p.userId,
          workspaceId: ws.id,
          kind: 'invoices.issued',
          subject: `Invoice ${number} from ${brand.firmName}`,
          text: `Invoice ${number} for ${formatMoney(issued.total, issued.currency)} is due on ${dayIn(issued.due_at!, brand.timeZone)}. Sign in to see it and download the PDF.`,
          link: `/w/${ws.slug}/invoices/i/${id}`,
        })),
      );
      deps.events.publish(trx, 'invoices.invoice.issued', { workspaceId: ws.id, invoiceId: id });
      return number;
    });
  } catch (err) {
    for (const b of blobs) await deps.storage.discard(b).catch(() => undefined);
    throw err;
  }
}

/** The first view by someone of the client: recorded once (a conditional update), audited. */
export async function markViewed(deps: InvoicesDeps, ws: Ws, actor: Actor, id: string): Promise<boolean> {
  return transaction(deps.db, async (trx) => {
    const now = deps.clock.now();
    const n = await trx('invoices_invoices').where({ workspace_id: ws.id, id }).whereNull('viewed_at').whereIn('status', OPEN as Status[]).update({ viewed_at: now, viewed_by: actor.actorId ?? null, updated_at: now, status: trx.raw("case when status = 'issued' then 'viewed' else status end") });
    if (!n) return false;
    await deps.audit.record(trx, { ...actor, workspaceId: ws.id, action: 'invoices.invoice.view', subjectType: 'Invoice', subjectId: id });
    deps.events.publish(trx, 'invoices.invoice.viewed', { workspaceId: ws.id, invoiceId: id });
    return true;
  });
}

export async function voidInvoice(deps: InvoicesDeps, ws: Ws, actor: Actor, id: string, reason: string): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const inv = await findInvoiceRow(trx, ws.id, id);
    if (!inv) throw new AtriumError('ATR_NOT_FOUND', 'no such invoice', { status: 404 });
    if (!OPEN.includes(inv.status)) throw new Refusal(inv.status === 'draft' ? 'A draft is not issued yet: there is nothing to void.' : 'Only an unpaid issued invoice can be voided.');
    if (inv.paid_total !== 0) throw new Refusal('Payments were recorded on this invoice: record a refund of them first, then void it.');
    if (inv.credited_total !== 0) throw new Refusal('A credit note was issued against this invoice: credit what is left instead of voiding it.');
    const now = deps.clock.now();
    const n = await trx('invoices_invoices').where({ workspace_id: ws.id, id, paid_total: 0 }).whereIn('status', OPEN as Status[]).where({ credited_total: 0 }).update({ status: 'void', voided_at: now, voided_by: actor.actorId ?? null, void_reason: reason, updated_at: now });
    if (!n) throw new Refusal('The invoice changed while you were looking: try again.');
    await deps.audit.record(trx, { ...actor, workspaceId: ws.id, action: 'invoices.invoice.void', subjectType: 'Invoice', subjectId: id, detail: { reason } });
    deps.events.publish(trx, 'invoices.invoice.voided', { workspaceId: ws.id, invoiceId: id });
  });
}

export interface PaymentInput {
  amount: number;
  method: Method;
  reference: string;
  receivedAt: number;
}

/** The status a payment (or a credit note) leaves an invoice in: paid once nothing is owed. */
export function statusAfterPayment(inv: Pick<InvoiceRow, 'total' | 'viewed_at' | 'credited_total'>, paid: number): Status {
  if (paid + inv.credited_total >= inv.total) return 'paid';
  if (paid > 0) return 'partially_paid';
  return inv.viewed_at ? 'viewed' : 'issued';
}

/** A payment (or, negative, a refund) recorded by staff, with its receipt number. */
export async function recordPayment(deps: InvoicesDeps, ws: Ws, actor: Actor, id: string, input: PaymentInput): Promise<{ paymentId: string; receipt: string; status: Status }> {
  return transaction(deps.db, (trx) => recordPaymentIn(deps, trx, ws, actor, id, input));
}

/** Where a payment came from when a provider confirmed it online (online.ts). */
export interface OnlineSource {
  provider: string;
  providerRef: string;
  /** The audit action (`invoices.invoice.payOnline`) and extra detail. */
  action: string;
  detail: Record<string, unknown>;
  /** A refund through the provider: the online payment it gives back. */
  refundOf?: string;
}

/**
 * Record a payment in `trx`: the invoice's paid total and status move with one conditional
 * UPDATE, the receipt takes its number, the audit event and the event follow. Staff's payments
 * and providers' confirmed ones (with `online`: UNIQUE on provider + reference) go through here,
 * so both get the same receipt.
 */
export async function recordPaymentIn(deps: InvoicesDeps, trx: Trx, ws: Ws, actor: Actor, id: string, input: PaymentInput, online?: OnlineSource): Promise<{ paymentId: string; receipt: string; status: Status }> {
  const inv = await findInvoiceRow(trx, ws.id, id);
  if (!inv) throw new AtriumError('ATR_NOT_FOUND', 'no such invoice', { status: 404 });
  if (!OPEN.includes(inv.status) && inv.status !== 'paid') throw new Refusal(inv.status === 'draft' ? 'Issue the invoice before recording a payment.' : 'This invoice is void: payments can no longer be recorded.');
  const paid = inv.paid_total + input.amount;
  if (input.amount > 0 && paid + inv.credited_total > inv.total) throw new Refusal(`That is more than is owed (${formatMoney(Math.max(0, owedOf(inv)), inv.currency)}).`);
  if (input.amount < 0 && paid < 0) throw new Refusal(`A refund cannot be more than was paid (${formatMoney(inv.paid_total, inv.currency)}).`);
  const now = deps.clock.now();
  const status = statusAfterPayment(inv, paid);
  const n = await trx('invoices_invoices')
    .where({ workspace_id: ws.id, id, paid_total: inv.paid_total, credited_total: inv.credited_total, status: inv.status })
    .update({ paid_total: paid, status, paid_at: status === 'paid' ? now : null, updated_at: now });
  if (!n) throw new Refusal('The invoice changed while you were looking: try again.');
  const key = seriesKey(deps.settings.receiptPrefix, now);
  const receipt = formatNumber(key, await takeNumber(trx, key), deps.settings.numberPadding);
  const paymentId = newId();
  await trx('invoices_payments').insert({ id: paymentId, workspace_id: ws.id, invoice_id: id, receipt_number: receipt, amount: input.amount, method: input.method, reference: input.reference, received_at: input.receivedAt, recorded_by: actor.actorId ?? null, recorded_at: now, ...(online ? { provider: online.provider, provider_ref: online.providerRef, refund_of: online.refundOf ?? null } : {}) });
  const action = online?.action ?? (input.amount < 0 ? 'invoices.invoice.refund' : 'invoices.invoice.pay');
  await deps.audit.record(trx, { ...actor, workspaceId: ws.id, action, subjectType: 'Invoice', subjectId: id, detail: { paymentId, receipt, amount: input.amount, currency: inv.currency, method: input.method, status, ...(online?.detail ?? {}) } });
  deps.events.publish(trx, 'invoices.payment.recorded', { workspaceId: ws.id, invoiceId: id, paymentId, status });
  return { paymentId, receipt, status };
}
