// Credit note pages, under /w/:workspace/invoices/i/:invoiceId/credit-notes: staff who may issue
// invoices issue one (a form of the invoice's lines or an amount); whoever may read the invoice
// downloads its PDF, exactly as stored. The invoice is found through the workspace scope and the
// ability's row filter (routes.ts does the same), the credit note under that invoice.
import type { Request, Router } from 'express';
import { z } from 'zod';
import { accessibleBy, authorize, contentDisposition, formBody, notFound } from '../../core/index.ts';
import { creditValues, parseCredit, type CreditValues } from './credit-forms.ts';
import { CREDITABLE, creditNotesOf, creditPdfBind, creditableOf, creditedQuantities, findCreditNote, issueCreditNote } from './credit-notes.ts';
import { decimalString, formatMoney, formatQuantity, formatRate, minorDigits } from './money.ts';
import { INVOICE_COLS, Refusal, linesOf, normInvoice, type InvoiceRow, type InvoicesDeps } from './service.ts';

const idParam = z.string().regex(/^[0-9a-f-]{36}$/);
const base = (req: Request) => `/w/${req.ctx.workspace!.slug}/invoices`;
const wsOf = (req: Request) => ({ id: req.ctx.workspace!.id, slug: req.ctx.workspace!.slug, name: req.ctx.workspace!.name });

export function creditNoteRoutes(workspace: Router, deps: InvoicesDeps): void {
  const { db } = deps;

  async function find(req: Request): Promise<InvoiceRow> {
    const id = idParam.safeParse(req.params.invoiceId);
    if (!id.success) throw notFound();
    const r = await req.ctx.scope!.table('invoices_invoices').modify(accessibleBy(req.ctx.ability, 'read', 'Invoice')).where({ id: id.data }).first(INVOICE_COLS);
    if (!r) throw notFound();
    return normInvoice(r);
  }

  async function form(req: Request, inv: InvoiceRow, values: CreditValues, errors: Record<string, string> = {}, status = 200) {
    const lines = await linesOf(db, inv.workspace_id, inv.id);
    const taken = await creditedQuantities(db, inv.workspace_id, inv.id);
    const money = (m: number) => formatMoney(m, inv.currency);
    const digits = minorDigits(inv.currency);
    await req.ctx.render(
      'invoices/credit-note',
      {
        number: inv.number,
        invoiceHref: `${base(req)}/i/${inv.id}`,
        listHref: `${base(req)}/`,
        action: `${base(req)}/i/${inv.id}/credit-notes/new`,
        creditable: money(creditableOf(inv)),
        inclusive: inv.tax_mode === 'inclusive',
        lines: lines.map((l) => {
          const left = l.quantity - (taken.get(l.id) ?? 0);
          return {
            position: l.position,
            description: l.description,
            quantity: formatQuantity(l.quantity),
            left: formatQuantity(left),
            none: left <= 0,
            unitPrice: money(l.unitPrice),
            taxRate: `${formatRate(l.taxRate)}%`,
            discount: l.discount ? `${formatRate(l.discount)}%` : null,
            value: values.qty[l.position] ?? '',
            error: errors[`qty-${l.position}`],
          };
        }),
        kinds: [
          { value: 'lines', label: 'Some of the invoice’s lines', selected: values.kind !== 'amount' },
          { value: 'amount', label: 'An amount', selected: values.kind === 'amount' },
        ],
        values,
        errors,
        hasErrors: Object.keys(errors).length > 0,
        amountHint: `In ${inv.currency}, ${inv.tax_mode === 'inclusive' ? 'including tax' : 'before tax (tax is added at the rate below)'}, like ${decimalString(50 * 10 ** digits, digits)}.`,
      },
      { title: `Credit note for invoice ${inv.number}`, status },
    );
  }

  async function creditable(req: Request): Promise<InvoiceRow> {
    const inv = await find(req);
    if (!CREDITABLE.includes(inv.status)) throw notFound();
    return inv;
  }

  workspace.get('/i/:invoiceId/credit-notes/new', authorize('issue', 'Invoice'), async (req) => {
    const inv = await creditable(req);
    await form(req, inv, { kind: 'lines', reason: '', description: '', amount: '', taxRate: '', qty: {} });
  });

  workspace.post('/i/:invoiceId/credit-notes/new', authorize('issue', 'Invoice'), async (req, res) => {
    const inv = await creditable(req);
    const values = creditValues(formBody(req.body) as Record<string, unknown>);
    const lines = await linesOf(db, inv.workspace_id, inv.id);
    const taken = await creditedQuantities(db, inv.workspace_id, inv.id);
    const left = new Map(lines.map((l) => [l.id, l.quantity - (taken.get(l.id) ?? 0)]));
    const parsed = parseCredit(values, lines, left, inv.currency);
    if (!parsed.ok) return form(req, inv, values, parsed.errors, 400);
    try {
      const cn = await issueCreditNote(deps, wsOf(req), req.ctx.actor(), inv.id, parsed.value);
      await req.ctx.flash('success', `Credit note ${cn.number} issued. The client’s people who see invoices were told.`);
      res.redirect(303, `${base(req)}/i/${inv.id}`);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      // Refused as a whole (too much, the invoice changed): the message sits above the form.
      return form(req, await find(req), values, { lines: err.message }, 400);
    }
  });

  // The credit note's PDF, exactly as stored (its SHA-256 is on the invoice's page).
  workspace.get('/i/:invoiceId/credit-notes/:creditNoteId/pdf', authorize('read', 'Invoice'), async (req, res) => {
    const inv = await find(req);
    const cid = idParam.safeParse(req.params.creditNoteId);
    const cn = cid.success ? await findCreditNote(db, inv.workspace_id, inv.id, cid.data) : undefined;
    if (!cn) throw notFound();
    const opened = await deps.storage.open(db, cn.pdf_key, { bind: creditPdfBind(cn.id) });
    res.setHeader('Content-Type', 'application/pdf');
    res.setHeader('Content-Disposition', contentDisposition(`Credit note ${cn.number}.pdf`));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'");
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', String(opened.size));
    await opened.writeTo(res);
    res.end();
  });
}

/** The invoice page's credit notes, field by field (routes.ts renders them in invoice.hbs). */
export async function creditNotesModel(db: InvoicesDeps['db'], inv: InvoiceRow, invoiceHref: string) {
  return (await creditNotesOf(db, inv.workspace_id, inv.id)).map((c) => ({
    number: c.number,
    amount: formatMoney(c.total, c.currency),
    reason: c.reason,
    issuedAt: c.issued_at,
    sha256: c.pdf_sha256,
    pdfHref: `${invoiceHref}/credit-notes/${c.id}/pdf`,
  }));
}
