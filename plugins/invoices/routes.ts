// The invoice pages, mounted at /w/:workspace/invoices. Staff (who may issue) see every invoice
// with its drafts, edit drafts, issue, void and record payments; a client who may read invoices
// sees the issued ones, their totals and receipts, and downloads the PDF. Every read goes through
// the workspace scope and the ability's row filter (a draft is not a client's to read); every
// change is one transaction with its audit event (service.ts).
import type { NextFunction, Request, Response } from 'express';
import type { Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { accessibleBy, authorize, contentDisposition, fieldErrors, formBody, notFound, transaction } from '../../core/index.ts';
import { blankLine, editorValues, parseDraft, parsePayment, voidForm, type EditorValues } from './forms.ts';
import { CURRENCY_CODES, decimalString, formatMoney, formatQuantity, formatRate, minorDigits } from './money.ts';
import {
  INVOICE_COLS,
  OPEN,
  Refusal,
  createDraft,
  issueInvoice,
  linesOf,
  markViewed,
  normInvoice,
  owedOf,
  owedSql,
  paymentsOf,
  pdfBind,
  recordPayment,
  updateDraft,
  voidInvoice,
  type InvoiceRow,
  type InvoicesDeps,
  type Status,
} from './service.ts';
import { detail, editorModel, METHOD_LABELS, summary } from './views.ts';
import { CREDITABLE } from './credit-notes.ts';
import { creditNotesModel } from './credit-routes.ts';
import { draftPdf, sendPreview, unsavedDraft } from './preview.ts';
import { periodOptions, periodQuery, resolvePeriod } from './period.ts';
import { draftDefaults, type DraftDefaults } from './workspace-settings.ts';

const FILTERS = ['all', 'draft', 'open', 'overdue', 'paid', 'void'] as const;
const FILTER_LABELS: Record<(typeof FILTERS)[number], string> = { all: 'All', draft: 'Drafts', open: 'To be paid', overdue: 'Overdue', paid: 'Paid', void: 'Void' };
const listQuery = z.object({
  status: z.enum(FILTERS).catch('all').default('all'),
  ...periodQuery,
  page: z.coerce.number().int().min(1).max(100_000).catch(1).default(1),
});

const base = (req: Request) => `/w/${req.ctx.workspace!.slug}/invoices`;
const wsOf = (req: Request) => ({ id: req.ctx.workspace!.id, slug: req.ctx.workspace!.slug, name: req.ctx.workspace!.name });
/** Staff: the firm's side of invoices (drafts, issue, void, payments). */
const isFirm = (req: Request) => req.ctx.ability.can('issue', 'Invoice');
const idParam = z.string().regex(/^[0-9a-f-]{36}$/);
/** How far past the requested page the list counts (see the list's handler). */
const COUNT_AHEAD = 1000;

/** More for an invoice's page from elsewhere in the plugin (online.ts: the Pay buttons). */
export type PageExtras = (req: Request, inv: InvoiceRow) => Promise<Record<string, unknown>>;
/** More for a receipt's page (online.ts: "Refund through …" for an online payment). */
export type ReceiptExtras = (req: Request, inv: InvoiceRow, paymentId: string) => Promise<Record<string, unknown>>;

export function workspaceRoutes(workspace: Router, deps: InvoicesDeps, pageExtras?: PageExtras, receiptExtras?: ReceiptExtras): void {
  const { db, settings } = deps;
  const visible = (req: Request) => req.ctx.scope!.table('invoices_invoices').modify(accessibleBy(req.ctx.ability, 'read', 'Invoice'));

  /** The invoice this person may read, or 404 (another workspace's id, a client and a draft). */
  async function find(req: Request): Promise<InvoiceRow> {
    const id = idParam.safeParse(req.params.invoiceId);
    if (!id.success) throw notFound();
    const r = await visible(req).where({ id: id.data }).first(INVOICE_COLS);
    if (!r) throw notFound();
    return normInvoice(r);
  }

  // ---- the list

  workspace.get('/', authorize('read', 'Invoice'), async (req) => {
    const q = listQuery.parse(req.query);
    const now = deps.clock.now();
    const firm = isFirm(req);
    const filter = !firm && q.status === 'draft' ? 'all' : q.status;
    const zone = req.ctx.user!.timeZone ?? (await deps.branding.get()).timeZone;
    const period = resolvePeriod(q, now, zone);
    // The period is by issue date (a draft has none, so a period leaves drafts out): on the
    // (workspace_id, issued_at) index.
    const inPeriod = (b: Knex.QueryBuilder) => {
      if (period.from !== null) b.where('issued_at', '>=', period.from);
      if (period.to !== null) b.where('issued_at', '<', period.to);
    };
    const all = visible(req)
      .modify((b) => {
        if (filter === 'open') b.whereIn('status', OPEN as Status[]);
        else if (filter === 'overdue') b.whereIn('status', OPEN as Status[]).where('due_at', '<', now);
        else if (filter !== 'all') b.where('status', filter);
      })
      .modify(inPeriod);
    // Count at most COUNT_AHEAD rows past the start of the requested page (as the files list does),
    // so the first pages of a workspace with 100,000 invoices cost what they cost with 1,000: an
    // exact COUNT(*) reads every row. Beyond that the caption and the page count say "more than".
    const limit = (q.page - 1) * settings.pageSize + COUNT_AHEAD + 1;
    const counted = Number(((await db.from(all.clone().select(db.raw('1')).limit(limit).as('c')).count({ n: '*' }).first()) as { n: number | string }).n);
    const exact = counted < limit;
    const last = exact ? Math.max(1, Math.ceil(counted / settings.pageSize)) : Infinity;
    const page = Math.min(q.page, last);
    const total: number | string = exact ? counted : `more than ${limit - 1}`;
    const pages: number | string = exact ? last : `more than ${Math.floor((limit - 1) / settings.pageSize)}`;
    const rows = ((await all.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(settings.pageSize).offset((page - 1) * settings.pageSize).select(INVOICE_COLS)) as Array<Record<string, unknown>>).map(normInvoice);
    // What is owed, by currency, for the invoices of the period: outstanding (open) and the overdue part of it.
    // The status filter comes before the reader's row filter: SQLite uses the first IN list on
    // `status` for the index, and OPEN is the short one (20 rows, not every visible invoice).
    const owed = (await req.ctx.scope!.table('invoices_invoices')
      .whereIn('status', OPEN as Status[])
      .modify(accessibleBy(req.ctx.ability, 'read', 'Invoice'))
      .modify(inPeriod)
      .groupBy('currency')
      .select('currency')
      .sum({ outstanding: db.raw(owedSql()) })
      .sum({ overdue: db.raw(`case when due_at < ? then ${owedSql()} else 0 end`, [now]) })) as Array<{ currency: string; outstanding: number | string; overdue: number | string }>;
    const periodParams: Record<string, string> = period.preset && period.preset !== 'custom' ? { period: period.preset } : { ...(period.fromDay ? { from: period.fromDay } : {}), ...(period.toDay ? { to: period.toDay } : {}) };
    const link = (status: string, p = 1) => `${base(req)}/?${new URLSearchParams({ status, ...periodParams, page: String(p) })}`;
    await req.ctx.render(
      'invoices/list',
      {
        firm,
        invoices: rows.map((r) => summary(r, `${base(req)}/i/${r.id}`, now)),
        owed: owed.filter((o) => Number(o.outstanding) !== 0).map((o) => ({ outstanding: formatMoney(Number(o.outstanding), o.currency), overdue: Number(o.overdue) ? formatMoney(Number(o.overdue), o.currency) : null })),
        total,
        page,
        pages,
        prev: page > 1 ? link(filter, page - 1) : null,
        next: page < last ? link(filter, page + 1) : null,
        chips: FILTERS.filter((f) => firm || f !== 'draft').map((f) => ({ label: FILTER_LABELS[f], href: link(f), current: f === filter })),
        status: filter,
        period: { label: period.label, from: period.fromDay, to: period.toDay, options: periodOptions(period.preset) },
        filtered: filter !== 'all' || period.label !== null,
        allHref: `${base(req)}/`,
        newHref: `${base(req)}/new`,
        settingsHref: firm && req.ctx.ability.can('update', 'Invoice') ? `${base(req)}/settings` : null,
      },
      { title: 'Invoices' },
    );
  });

  // ---- the draft editor (new and existing)

  const termsOptions = (v: string) => [
    { value: '0', label: 'Due on receipt' },
    { value: '15', label: 'Net 15 (15 days)' },
    { value: '30', label: 'Net 30 (30 days)' },
    { value: 'custom', label: 'Another number of days' },
  ].map((o) => ({ ...o, selected: o.value === v }));

  /** This workspace's defaults for new drafts (its settings page, else the firm's). */
  const wsDefaults = (req: Request) => draftDefaults(db, req.ctx.workspace!.id, settings);

  async function editor(req: Request, values: EditorValues, opts: { action: string; invoice?: InvoiceRow; errors?: Record<string, string>; status?: number; defaults?: DraftDefaults }) {
    const errors = opts.errors ?? {};
    const d = opts.defaults ?? (await wsDefaults(req));
    const mode = opts.invoice?.tax_mode ?? d.taxMode;
    const m = editorModel(values, mode, errors, formatRate(d.defaultTaxRate));
    await req.ctx.render(
      'invoices/edit',
      {
        action: opts.action,
        // Live totals: the server computes them with money.ts as a line changes (htmx); without
        // JavaScript the "Recalculate totals" button posts the whole form instead.
        totalsAction: opts.invoice ? `${base(req)}/i/${opts.invoice.id}/totals` : `${base(req)}/new/totals`,
        cancelHref: opts.invoice ? `${base(req)}/i/${opts.invoice.id}` : `${base(req)}/`,
        listHref: `${base(req)}/`,
        isNew: !opts.invoice,
        values,
        errors,
        hasErrors: Object.keys(errors).length > 0,
        rows: m.rows,
        totals: m.totals,
        canAdd: m.rows.length < settings.maxLines,
        maxLines: settings.maxLines,
        inclusive: mode === 'inclusive',
        currencies: CURRENCY_CODES.map((c) => ({ value: c, label: c, selected: c === values.currency })),
        terms: termsOptions(values.termsDays),
        custom: values.termsDays === 'custom',
      },
      { title: opts.invoice ? 'Edit draft invoice' : 'New invoice', status: opts.status ?? 200 },
    );
  }

  const defaults = (d: DraftDefaults): EditorValues => ({
    currency: d.currency,
    termsDays: ['0', '15', '30'].includes(String(d.termsDays)) ? String(d.termsDays) : 'custom',
    customDays: ['0', '15', '30'].includes(String(d.termsDays)) ? '' : String(d.termsDays),
    notes: d.notes,
    terms: d.terms,
    lines: [blankLine(formatRate(d.defaultTaxRate))],
  });

  /**
   * The editor's buttons: add a row, remove one (both re-show the form, nothing saved), recalculate,
   * preview as PDF (sent, nothing saved), or save. Returns the draft when it should be saved, after
   * answering the request otherwise.
   */
  async function editorPost(req: Request, res: Response, action: string, invoice?: InvoiceRow) {
    const body = formBody(req.body) as Record<string, unknown>;
    const values = editorValues(body);
    const intent = typeof body.intent === 'string' ? body.intent : 'save';
    const d = await wsDefaults(req);
    if (intent === 'add') {
      if (values.lines.length < settings.maxLines) values.lines.push(blankLine(formatRate(d.defaultTaxRate)));
      await editor(req, values, { action, invoice, defaults: d });
      return null;
    }
    const remove = /^remove-(\d{1,3})$/.exec(intent);
    if (remove) {
      values.lines.splice(Number(remove[1]), 1);
      await editor(req, values, { action, invoice, defaults: d });
      return null;
    }
    const parsed = parseDraft(values, settings.maxLines);
    if (!parsed.ok) {
      await editor(req, values, { action, invoice, errors: parsed.errors, status: 400, defaults: d });
      return null;
    }
    if (intent === 'recalculate') {
      await editor(req, values, { action, invoice, defaults: d });
      return null;
    }
    if (intent === 'preview') {
      const draft = unsavedDraft(wsOf(req).id, parsed.value, invoice?.tax_mode ?? d.taxMode, deps.clock.now(), invoice);
      sendPreview(res, await draftPdf(deps, db, wsOf(req), draft.inv, draft.lines));
      return null;
    }
    return parsed.value;
  }

  /**
   * Live totals (htmx): each line's amount and the invoice's totals for the values as typed, computed
   * here with money.ts (the browser does no arithmetic). Nothing is saved and no error is shown
   * while someone types: a line that cannot be read yet shows "—" and is left out of the totals.
   * Without HX-Request it is the "Recalculate totals" button: the whole editor again.
   */
  async function liveTotals(req: Request, action: string, invoice?: InvoiceRow) {
    const values = editorValues(formBody(req.body) as Record<string, unknown>);
    const d = await wsDefaults(req);
    if (!req.get('hx-request')) return editor(req, values, { action, invoice, defaults: d });
    const m = editorModel(values, invoice?.tax_mode ?? d.taxMode, {}, formatRate(d.defaultTaxRate));
    await req.ctx.render('invoices/editor-totals', { rows: m.rows, totals: m.totals });
  }

  workspace.get('/new', authorize('create', 'Invoice'), async (req) => {
    const d = await wsDefaults(req);
    await editor(req, defaults(d), { action: `${base(req)}/new`, defaults: d });
  });

  workspace.post('/new', authorize('create', 'Invoice'), async (req, res) => {
    const draft = await editorPost(req, res, `${base(req)}/new`);
    if (!draft) return;
    const id = await transaction(db, (trx) => createDraft(deps, trx, wsOf(req), req.ctx.actor(), draft));
    await req.ctx.flash('success', 'Draft saved. Check it, then issue it when it is ready.');
    res.redirect(303, `${base(req)}/i/${id}`);
  });

  workspace.post('/new/totals', authorize('create', 'Invoice'), async (req) => {
    if (!isFirm(req)) throw notFound();
    await liveTotals(req, `${base(req)}/new`);
  });

  async function editable(req: Request): Promise<InvoiceRow> {
    const inv = await find(req);
    if (!req.ctx.ability.can('update', 'Invoice')) throw notFound();
    return inv;
  }

  workspace.get('/i/:invoiceId/edit', authorize('update', 'Invoice'), async (req, res) => {
    const inv = await editable(req);
    if (inv.status !== 'draft') {
      await req.ctx.flash('info', 'This invoice has been issued, so it can no longer be changed.');
      return res.redirect(303, `${base(req)}/i/${inv.id}`);
    }
    const digits = minorDigits(inv.currency);
    const lines = await linesOf(db, inv.workspace_id, inv.id);
    const d = await wsDefaults(req);
    await editor(
      req,
      {
        currency: inv.currency,
        termsDays: ['0', '15', '30'].includes(String(inv.terms_days)) ? String(inv.terms_days) : 'custom',
        customDays: ['0', '15', '30'].includes(String(inv.terms_days)) ? '' : String(inv.terms_days),
        notes: inv.notes,
        terms: inv.terms,
        lines: lines.length
          ? lines.map((l) => ({ description: l.description, quantity: formatQuantity(l.quantity).replace(/,/g, ''), unitPrice: decimalString(l.unitPrice, digits), taxRate: formatRate(l.taxRate), discount: l.discount ? formatRate(l.discount) : '' }))
          : defaults(d).lines,
      },
      { action: `${base(req)}/i/${inv.id}/edit`, invoice: inv, defaults: d },
    );
  });

  workspace.post('/i/:invoiceId/totals', authorize('update', 'Invoice'), async (req) => {
    const inv = await editable(req);
    if (inv.status !== 'draft') throw notFound();
    await liveTotals(req, `${base(req)}/i/${inv.id}/edit`, inv);
  });

  // A saved draft as a PDF, marked "DRAFT — not issued", rendered on the fly and never stored.
  workspace.get('/i/:invoiceId/preview', authorize('update', 'Invoice'), async (req, res) => {
    const inv = await editable(req);
    if (inv.status !== 'draft') throw notFound();
    sendPreview(res, await draftPdf(deps, db, wsOf(req), inv, await linesOf(db, inv.workspace_id, inv.id)));
  });

  workspace.post('/i/:invoiceId/edit', authorize('update', 'Invoice'), async (req, res) => {
    const inv = await editable(req);
    if (inv.status !== 'draft') {
      await req.ctx.flash('error', 'This invoice has been issued, so it can no longer be changed.');
      return res.redirect(303, `${base(req)}/i/${inv.id}`);
    }
    const draft = await editorPost(req, res, `${base(req)}/i/${inv.id}/edit`, inv);
    if (!draft) return;
    try {
      await transaction(db, (trx) => updateDraft(deps, trx, wsOf(req), req.ctx.actor(), inv.id, draft));
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      await req.ctx.flash('error', err.message);
      return res.redirect(303, `${base(req)}/i/${inv.id}`);
    }
    await req.ctx.flash('success', 'Draft saved.');
    res.redirect(303, `${base(req)}/i/${inv.id}`);
  });

  // ---- one invoice

  async function page(req: Request, inv: InvoiceRow, extra: Record<string, unknown> = {}, status = 200) {
    const now = deps.clock.now();
    const lines = await linesOf(db, inv.workspace_id, inv.id);
    const payments = await paymentsOf(db, inv.workspace_id, inv.id);
    const firm = isFirm(req);
    const d = detail(inv, lines, payments, base(req), now);
    const today = new Date(now).toISOString().slice(0, 10);
    await req.ctx.render(
      'invoices/invoice',
      {
        invoice: d,
        firm,
        discussion: inv.status === 'draft' ? undefined : req.ctx.subjectThread('Invoice', inv.id),
        listHref: `${base(req)}/`,
        editHref: `${base(req)}/i/${inv.id}/edit`,
        previewHref: firm && inv.status === 'draft' && req.ctx.ability.can('update', 'Invoice') ? `${base(req)}/i/${inv.id}/preview` : null,
        issueAction: `${base(req)}/i/${inv.id}/issue`,
        voidAction: `${base(req)}/i/${inv.id}/void`,
        payAction: `${base(req)}/i/${inv.id}/payments`,
        canEdit: firm && inv.status === 'draft' && req.ctx.ability.can('update', 'Invoice'),
        canIssue: inv.status === 'draft' && req.ctx.ability.can('issue', 'Invoice'),
        canVoid: OPEN.includes(inv.status) && inv.paid_total === 0 && inv.credited_total === 0 && req.ctx.ability.can('void', 'Invoice'),
        canRecord: (OPEN.includes(inv.status) || inv.status === 'paid') && req.ctx.ability.can('record', 'Invoice'),
        // Credit notes (credit-routes.ts): listed for every reader, issued by staff.
        creditNotes: await creditNotesModel(db, inv, `${base(req)}/i/${inv.id}`),
        canCredit: CREDITABLE.includes(inv.status) && inv.credited_total < inv.total && req.ctx.ability.can('issue', 'Invoice'),
        creditHref: `${base(req)}/i/${inv.id}/credit-notes/new`,
        methods: Object.entries(METHOD_LABELS).filter(([value]) => value !== 'online').map(([value, label]) => ({ value, label, selected: value === ((extra.values as Record<string, unknown> | undefined)?.method ?? 'bank_transfer') })),
        values: { received: today, ...((extra.values as object) ?? {}) },
        errors: {},
        amountHint: `In ${inv.currency}, like ${decimalString(12_000 * 10 ** minorDigits(inv.currency), minorDigits(inv.currency))}. A refund is negative.`,
        ...(pageExtras ? await pageExtras(req, inv) : {}),
        ...extra,
      },
      { title: inv.number ? `Invoice ${inv.number}` : 'Draft invoice', status },
    );
  }

  workspace.get('/i/:invoiceId', authorize('read', 'Invoice'), async (req) => {
    let inv = await find(req);
    // The first view by someone of the client is recorded (status "viewed"): the firm's own views are not.
    if (!req.ctx.user!.firmRole && OPEN.includes(inv.status) && inv.viewed_at === null) {
      if (await markViewed(deps, wsOf(req), req.ctx.actor(), inv.id)) inv = (await find(req));
    }
    await page(req, inv);
  });

  const refused = async (req: Request, res: Response, inv: InvoiceRow, err: unknown) => {
    if (!(err instanceof Refusal)) throw err;
    await req.ctx.flash('error', err.message);
    res.redirect(303, `${base(req)}/i/${inv.id}`);
  };

  workspace.post('/i/:invoiceId/issue', authorize('issue', 'Invoice'), async (req, res) => {
    const inv = await find(req);
    try {
      const number = await issueInvoice(deps, wsOf(req), req.ctx.actor(), inv.id);
      await req.ctx.flash('success', `Invoice ${number} issued. The client’s people who see invoices were told.`);
      res.redirect(303, `${base(req)}/i/${inv.id}`);
    } catch (err) {
      await refused(req, res, inv, err);
    }
  });

  workspace.post('/i/:invoiceId/void', authorize('void', 'Invoice'), async (req, res) => {
    const inv = await find(req);
    const body = formBody(req.body);
    const parsed = voidForm.safeParse(body);
    if (!parsed.success) return page(req, inv, { voidErrors: fieldErrors(parsed.error), voidValues: body, voidOpen: true }, 400);
    try {
      await voidInvoice(deps, wsOf(req), req.ctx.actor(), inv.id, parsed.data.reason);
      await req.ctx.flash('success', `Invoice ${inv.number} is void.`);
      res.redirect(303, `${base(req)}/i/${inv.id}`);
    } catch (err) {
      await refused(req, res, inv, err);
    }
  });

  workspace.post('/i/:invoiceId/payments', authorize('record', 'Invoice'), async (req, res) => {
    const inv = await find(req);
    const body = formBody(req.body) as Record<string, unknown>;
    const parsed = parsePayment(body, inv.currency);
    if (!parsed.ok) return page(req, inv, { errors: parsed.errors, values: body, payOpen: true }, 400);
    try {
      const r = await recordPayment(deps, wsOf(req), req.ctx.actor(), inv.id, parsed.value);
      await req.ctx.flash('success', `${parsed.value.amount < 0 ? 'Refund' : 'Payment'} recorded: receipt ${r.receipt}.`);
      res.redirect(303, `${base(req)}/i/${inv.id}/receipts/${r.paymentId}`);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      return page(req, inv, { errors: { amount: err.message }, values: body, payOpen: true }, 400);
    }
  });

  workspace.get('/i/:invoiceId/receipts/:paymentId', authorize('read', 'Invoice'), async (req, _res, next: NextFunction) => {
    const inv = await find(req);
    const pid = idParam.safeParse(req.params.paymentId);
    const p = pid.success ? (await paymentsOf(db, inv.workspace_id, inv.id)).find((x) => x.id === pid.data) : undefined;
    if (!p) return next(notFound());
    const brand = await deps.branding.get();
    await req.ctx.render(
      'invoices/receipt',
      {
        firmName: brand.firmName,
        invoiceHref: `${base(req)}/i/${inv.id}`,
        listHref: `${base(req)}/`,
        number: inv.number,
        receipt: p.receipt_number,
        refund: p.amount < 0,
        amount: formatMoney(p.amount, inv.currency),
        method: METHOD_LABELS[p.method],
        reference: p.reference,
        receivedAt: p.received_at,
        recordedAt: p.recorded_at,
        outstanding: formatMoney(Math.max(0, owedOf(inv)), inv.currency),
        client: req.ctx.workspace!.name,
        ...(receiptExtras ? await receiptExtras(req, inv, p.id) : {}),
      },
      { title: `Receipt ${p.receipt_number}` },
    );
  });

  // ---- the issued PDF, exactly as stored (its SHA-256 is on the invoice's page)

  workspace.get('/i/:invoiceId/pdf', authorize('read', 'Invoice'), async (req, res) => {
    const inv = await find(req);
    if (!inv.pdf_key) throw notFound();
    const opened = await deps.storage.open(db, inv.pdf_key, { bind: pdfBind(inv.id) });
    res.setHeader('Content-Type', 'application/pdf');
    res.setHeader('Content-Disposition', contentDisposition(`Invoice ${inv.number}.pdf`));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'");
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', String(opened.size));
    await opened.writeTo(res);
    res.end();
  });
}
