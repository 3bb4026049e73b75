// Credit notes: an issued invoice is never edited, so a correction is a credit note against it,
// issued by staff: some of the invoice's lines (a quantity of each, at the invoice's prices, tax
// rates and discounts) or an amount, never more than the invoice's total less what earlier credit
// notes took off. It takes a number from its own gap-free series (numbering.ts), gets a PDF in the
// invoice's style (pdf.ts) stored encrypted with its SHA-256, and reduces what is owed: the
// invoice's `credited_total` grows, and once nothing is left to pay the invoice is `paid`. One
// transaction with its audit event (on the invoice, so whoever may read the invoice reads it) and
// the client's notice; the event is delivered after commit.
import { Readable } from 'node:stream';
import { AtriumError, newId, transaction, type Db, type Trx } from '../../core/index.ts';
import { formatMoney, formatQuantity, formatRate, invoiceTotals, type TaxMode } from './money.ts';
import { formatNumber, seriesKey, takeNumber } from './numbering.ts';
import { renderInvoicePdf, type InvoicePdf } from './pdf.ts';
import { OPEN, Refusal, dayIn, findInvoiceRow, lineFields, linesOf, owedOf, pdfLines, statusAfterPayment, type Actor, type DraftLine, type InvoiceRow, type InvoicesDeps, type Status, type Ws } from './service.ts';

/** Statuses an invoice can be credited in: issued and not void (a paid one too: the firm then refunds). */
export const CREDITABLE: readonly Status[] = [...OPEN, 'paid'];

export interface CreditLine extends DraftLine {
  /** The invoice line it credits; null for an amount. */
  invoiceLineId: string | null;
}

export interface CreditInput {
  reason: string;
  lines: CreditLine[];
}

export interface CreditNoteRow {
  id: string;
  invoice_id: string;
  number: string;
  reason: string;
  currency: string;
  subtotal: number;
  tax_total: number;
  total: number;
  issued_at: number;
  pdf_key: string;
  pdf_sha256: string;
  pdf_size: number;
}

export interface CreditLineRow extends CreditLine {
  position: number;
  net: number;
  tax: number;
  total: number;
}

const COLS = ['id', 'invoice_id', 'number', 'reason', 'currency', 'subtotal', 'tax_total', 'total', 'issued_at', 'pdf_key', 'pdf_sha256', 'pdf_size'];

function norm(r: Record<string, unknown>): CreditNoteRow {
  return {
    id: String(r.id),
    invoice_id: String(r.invoice_id),
    number: String(r.number),
    reason: String(r.reason),
    currency: String(r.currency),
    subtotal: Number(r.subtotal),
    tax_total: Number(r.tax_total),
    total: Number(r.total),
    issued_at: Number(r.issued_at),
    pdf_key: String(r.pdf_key),
    pdf_sha256: String(r.pdf_sha256),
    pdf_size: Number(r.pdf_size),
  };
}

export const creditPdfBind = (creditNoteId: string) => `invoices:${creditNoteId}:credit-pdf`;

export async function creditNotesOf(db: Db | Trx, workspaceId: string, invoiceId: string): Promise<CreditNoteRow[]> {
  const rows = (await db('invoices_credit_notes').where({ workspace_id: workspaceId, invoice_id: invoiceId }).orderBy('issued_at').orderBy('number').select(COLS)) as Array<Record<string, unknown>>;
  return rows.map(norm);
}

export async function findCreditNote(db: Db | Trx, workspaceId: string, invoiceId: string, id: string): Promise<CreditNoteRow | undefined> {
  const r = (await db('invoices_credit_notes').where({ workspace_id: workspaceId, invoice_id: invoiceId, id }).first(COLS)) as Record<string, unknown> | undefined;
  return r ? norm(r) : undefined;
}

export async function creditLinesOf(db: Db | Trx, workspaceId: string, creditNoteId: string): Promise<CreditLineRow[]> {
  const rows = (await db('invoices_credit_lines').where({ workspace_id: workspaceId, credit_note_id: creditNoteId }).orderBy('position')) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    invoiceLineId: r.invoice_line_id == null ? null : String(r.invoice_line_id),
    ...lineFields(r),
  }));
}

/** How much of each invoice line earlier credit notes took (thousandths, by invoice line id). */
export async function creditedQuantities(db: Db | Trx, workspaceId: string, invoiceId: string): Promise<Map<string, number>> {
  const rows = (await db('invoices_credit_lines as l')
    .join('invoices_credit_notes as c', function () {
      this.on('c.id', '=', 'l.credit_note_id').andOn('c.workspace_id', '=', 'l.workspace_id');
    })
    .where({ 'c.workspace_id': workspaceId, 'c.invoice_id': invoiceId })
    .whereNotNull('l.invoice_line_id')
    .groupBy('l.invoice_line_id')
    .select('l.invoice_line_id as line')
    .sum({ q: 'l.quantity' })) as Array<{ line: string; q: number | string }>;
  return new Map(rows.map((r) => [String(r.line), Number(r.q)]));
}

/** What can still be credited: the total less earlier credit notes. */
export const creditableOf = (inv: Pick<InvoiceRow, 'total' | 'credited_total'>) => inv.total - inv.credited_total;

/** The credit note's PDF, in the invoice's style: same renderer, its own title and no "How to pay". */
export async function creditPdfModel(deps: Pick<InvoicesDeps, 'branding' | 'settings'>, db: Db | Trx, ws: Pick<Ws, 'name'>, inv: Pick<InvoiceRow, 'number' | 'tax_mode'>, cn: CreditNoteRow, lines: CreditLineRow[]): Promise<InvoicePdf> {
  const brand = await deps.branding.get(db);
  const money = (m: number) => formatMoney(m, cn.currency);
  const amount = (m: number) => money(m).slice(cn.currency.length + 1);
  const totals = invoiceTotals(lines, inv.tax_mode);
  const rows: InvoicePdf['totals'] = [{ label: inv.tax_mode === 'inclusive' ? 'Net' : 'Subtotal', value: money(cn.subtotal) }];
  for (const t of totals.byRate) if (t.rate > 0 || totals.byRate.length > 1) rows.push({ label: `Tax ${formatRate(t.rate)}%`, value: money(t.tax) });
  rows.push({ label: 'Total credited', value: money(cn.total), strong: true });
  return {
    firm: { name: brand.firmName, address: deps.settings.firmAddress, colour: brand.primary },
    client: ws.name,
    number: cn.number,
    title: `Credit note ${cn.number}`,
    issuedAt: cn.issued_at,
    issueDay: dayIn(cn.issued_at, brand.timeZone),
    dueDay: '',
    secondDate: { label: 'Credits invoice', value: inv.number ?? '' },
    currency: cn.currency,
    taxLabel: 'Tax',
    lines: pdfLines(lines, inv.tax_mode, amount),
    totals: rows,
    paymentDetails: '',
    notes: `Reason: ${cn.reason}\nThis credit note reduces what is owed on invoice ${inv.number ?? ''} by ${money(cn.total)}.`,
    terms: '',
    howToPay: false,
  };
}

/**
 * Issue a credit note against invoice `invoiceId`. Refused (nothing saved, the number given back)
 * when the invoice is a draft or void, when it credits nothing, more of a line than is left of it,
 * or more than is left to credit. Returns the new credit note's id, number and the invoice's status.
 */
export async function issueCreditNote(deps: InvoicesDeps, ws: Ws, actor: Actor, invoiceId: string, input: CreditInput): Promise<{ id: string; number: string; status: Status }> {
  const blobs: Array<Awaited<ReturnType<InvoicesDeps['storage']['put']>>> = [];
  try {
    return await transaction(deps.db, async (trx) => {
      const inv = await findInvoiceRow(trx, ws.id, invoiceId);
      if (!inv) throw new AtriumError('ATR_NOT_FOUND', 'no such invoice', { status: 404 });
      if (!CREDITABLE.includes(inv.status)) throw new Refusal(inv.status === 'draft' ? 'A draft is not issued yet: change it instead of crediting it.' : 'This invoice is void: there is nothing to credit.');
      if (!input.lines.length) throw new Refusal('Choose what to credit: a quantity of a line, or an amount.');
      // Lines credit at most what is left of them: the invoice's quantity less earlier credit notes.
      const invLines = new Map((await linesOf(trx, ws.id, invoiceId)).map((l) => [l.id, l]));
      const taken = await creditedQuantities(trx, ws.id, invoiceId);
      for (const l of input.lines) {
        if (l.invoiceLineId === null) continue;
        const src = invLines.get(l.invoiceLineId);
        if (!src) throw new Refusal('That line is not on this invoice.');
        if (l.quantity > src.quantity - (taken.get(src.id) ?? 0)) throw new Refusal(`“${src.description}”: that is more than is left to credit of this line (${formatQuantity(src.quantity - (taken.get(src.id) ?? 0))}).`);
      }
      const totals = invoiceTotals(input.lines, inv.tax_mode as TaxMode);
      if (totals.total <= 0) throw new Refusal('A credit note must credit more than zero.');
      if (totals.total > creditableOf(inv)) throw new Refusal(`That is more than is left to credit on this invoice (${formatMoney(creditableOf(inv), inv.currency)}).`);

      const now = deps.clock.now();
      const key = seriesKey(deps.settings.creditNotePrefix, now);
      const number = formatNumber(key, await takeNumber(trx, key), deps.settings.numberPadding);
      const id = newId();
      const lines: CreditLineRow[] = input.lines.map((l, i) => ({ ...l, position: i + 1, ...totals.lines[i]! }));
      const draft: CreditNoteRow = { id, invoice_id: invoiceId, number, reason: input.reason, currency: inv.currency, subtotal: totals.subtotal, tax_total: totals.tax, total: totals.total, issued_at: now, pdf_key: '', pdf_sha256: '', pdf_size: 0 };
      const bytes = await renderInvoicePdf(await creditPdfModel(deps, trx, ws, inv, draft, lines));
      const blob = await deps.storage.put(Readable.from([Buffer.from(bytes)]), { bind: creditPdfBind(id) });
      blobs.push(blob);
      await deps.storage.record(trx, blob, { plugin: 'invoices', workspaceId: ws.id });
      await trx('invoices_credit_notes').insert({ id, workspace_id: ws.id, invoice_id: invoiceId, number, reason: input.reason, currency: inv.currency, subtotal: totals.subtotal, tax_total: totals.tax, total: totals.total, issued_at: now, issued_by: actor.actorId ?? null, pdf_key: blob.key, pdf_sha256: blob.sha256, pdf_size: blob.size });
      await trx('invoices_credit_lines').insert(
        lines.map((l) => ({ id: newId(), workspace_id: ws.id, credit_note_id: id, invoice_line_id: l.invoiceLineId, position: l.position, description: l.description, quantity: l.quantity, unit_price: l.unitPrice, tax_rate: l.taxRate, discount: l.discount, net: l.net, tax: l.tax, total: l.total })),
      );
      // What is owed shrinks; nothing left to pay means paid. A concurrent payment or credit note
      // changed the row: refused, to be tried again with the new figures.
      const credited = inv.credited_total + totals.total;
      const status = statusAfterPayment({ ...inv, credited_total: credited }, inv.paid_total);
      const n = await trx('invoices_invoices')
        .where({ workspace_id: ws.id, id: invoiceId, status: inv.status, paid_total: inv.paid_total, credited_total: inv.credited_total })
        .update({ credited_total: credited, status, paid_at: status === 'paid' ? (inv.paid_at ?? now) : null, updated_at: now });
      if (!n) throw new Refusal('The invoice changed while you were looking: try again.');
      await deps.audit.record(trx, { ...actor, workspaceId: ws.id, action: 'invoices.invoice.credit', subjectType: 'Invoice', subjectId: invoiceId, detail: { creditNoteId: id, number, total: totals.total, currency: inv.currency, sha256: blob.sha256, status } });
      const brand = await deps.branding.get(trx);
      const owed = owedOf({ ...inv, credited_total: credited });
      const readers = (await deps.approvables.peopleWhoCan(trx, ws.id, 'read', 'Invoice')).filter((p) => !p.staff);
      await deps.notifications.notify(
        trx,
        readers.map((p) => ({
          userId: p.userId,
          workspaceId: ws.id,
          kind: 'invoices.credited',
          subject: `Credit note ${number} on invoice ${inv.number} from ${brand.firmName}`,
          text: `Credit note ${number} takes ${formatMoney(totals.total, inv.currency)} off invoice ${inv.number} (${input.reason}). ${owed > 0 ? `${formatMoney(owed, inv.currency)} is left to pay.` : 'Nothing is left to pay on it.'} Sign in to see it and download the PDF.`,
          link: `/w/${ws.slug}/invoices/i/${invoiceId}`,
        })),
      );
      deps.events.publish(trx, 'invoices.creditNote.issued', { workspaceId: ws.id, invoiceId, creditNoteId: id, status });
      return { id, number, status };
    });
  } catch (err) {
    for (const b of blobs) await deps.storage.discard(b).catch(() => undefined);
    throw err;
  }
}
