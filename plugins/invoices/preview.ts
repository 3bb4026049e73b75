// "Preview as PDF" for a draft: the invoice rendered on the fly by the same code as the issued PDF
// (pdf.ts), marked "DRAFT — not issued" on every page, with no number, never stored. It is made from
// the editor's values as typed (nothing saved) or from a saved draft's rows.
import type { Response } from 'express';
import { contentDisposition, type Db, type Trx } from '../../core/index.ts';
import { invoiceTotals, type TaxMode } from './money.ts';
import { renderInvoicePdf } from './pdf.ts';
import { pdfModel, type DraftInput, type InvoiceRow, type InvoicesDeps, type LineRow } from './service.ts';

/** A draft's rows as they would be saved from `input` (totals by money.ts, as on save). */
export function unsavedDraft(workspaceId: string, input: DraftInput, mode: TaxMode, at: number, saved?: InvoiceRow): { inv: InvoiceRow; lines: LineRow[] } {
  const t = invoiceTotals(input.lines, mode);
  const lines: LineRow[] = input.lines.map((l, i) => ({ ...l, id: String(i), position: i + 1, net: t.lines[i]!.net, tax: t.lines[i]!.tax, total: t.lines[i]!.total }));
  const inv: InvoiceRow = {
    id: saved?.id ?? 'preview',
    workspace_id: workspaceId,
    status: 'draft',
    number: null,
    label: 'Draft invoice',
    currency: input.currency,
    tax_mode: mode,
    terms_days: input.termsDays,
    notes: input.notes,
    terms: input.terms,
    payment_details: '',
    subtotal: t.subtotal,
    tax_total: t.tax,
    total: t.total,
    paid_total: 0,
    credited_total: 0,
    issued_at: null,
    due_at: null,
    viewed_at: null,
    paid_at: null,
    voided_at: null,
    void_reason: null,
    pdf_key: null,
    pdf_sha256: null,
    pdf_size: null,
    created_at: saved?.created_at ?? at,
    updated_at: saved?.updated_at ?? at,
  };
  return { inv, lines };
}

/** The draft's PDF: the firm's payment details as they would be copied at issue. */
export async function draftPdf(deps: InvoicesDeps, db: Db | Trx, ws: { id: string; name: string }, inv: InvoiceRow, lines: LineRow[]): Promise<Uint8Array> {
  return renderInvoicePdf(await pdfModel(deps, db, ws, { ...inv, payment_details: deps.settings.paymentDetails }, lines));
}

/** Sent as a download with the issued PDF's safe headers; never cached. */
export function sendPreview(res: Response, bytes: Uint8Array): void {
  res.setHeader('Content-Type', 'application/pdf');
  res.setHeader('Content-Disposition', contentDisposition('Draft invoice (preview, not issued).pdf'));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'");
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', String(bytes.length));
  res.end(Buffer.from(bytes));
}
