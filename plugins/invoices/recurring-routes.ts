// Recurring invoice pages, under /w/:workspace/invoices/recurring: the firm's side only (who may
// issue invoices). The templates of this workspace with their next date, the editor (the invoice
// editor's lines and the schedule), pause and resume. Rows are read through the workspace scope;
// every change is one transaction with its audit event (recurring.ts).
import type { Request, Router } from 'express';
import { z } from 'zod';
import { authorize, formBody, notFound } from '../../core/index.ts';
import { blankLine } from './forms.ts';
import { CURRENCY_CODES, decimalString, formatMoney, formatQuantity, formatRate, invoiceTotals, minorDigits } from './money.ts';
import { TEMPLATE_COLS, createTemplate, normTemplate, scheduleOf, setTemplatePaused, templateLinesOf, updateTemplate, type TemplateRow } from './recurring.ts';
import { parseTemplate, templateValues, type TemplateValues } from './recurring-forms.ts';
import { FREQUENCY_LABELS, frequencyOf, periodAt, type Frequency } from './schedule.ts';
import { Refusal, type InvoicesDeps } from './service.ts';
import { editorModel } from './views.ts';

const idParam = z.string().regex(/^[0-9a-f-]{36}$/);
const base = (req: Request) => `/w/${req.ctx.workspace!.slug}/invoices`;
const wsOf = (req: Request) => ({ id: req.ctx.workspace!.id, slug: req.ctx.workspace!.slug, name: req.ctx.workspace!.name });
/** A schedule's day, as a calendar day (they are UTC days, not instants). */
const calendarDay = (ms: number) => new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(ms);
const ordinal = (n: number) => `${n}${n % 10 === 1 && n !== 11 ? 'st' : n % 10 === 2 && n !== 12 ? 'nd' : n % 10 === 3 && n !== 13 ? 'rd' : 'th'}`;

export function describeSchedule(t: Pick<TemplateRow, 'interval_months' | 'day_of_month'>): string {
  const day = t.day_of_month >= 29 ? `the ${ordinal(t.day_of_month)} (the last day in shorter months)` : `the ${ordinal(t.day_of_month)}`;
  return `${FREQUENCY_LABELS[frequencyOf(t.interval_months)]}, on ${day}`;
}

export function recurringRoutes(workspace: Router, deps: InvoicesDeps): void {
  const { db, settings } = deps;
  const rate = () => formatRate(Math.round(settings.defaultTaxRate * 100));

  async function find(req: Request): Promise<TemplateRow> {
    const id = idParam.safeParse(req.params.templateId);
    if (!id.success) throw notFound();
    const r = await req.ctx.scope!.table('invoices_templates').where({ id: id.data }).first(TEMPLATE_COLS);
    if (!r) throw notFound();
    return normTemplate(r);
  }

  workspace.get('/recurring', authorize('issue', 'Invoice'), async (req) => {
    const rows = ((await req.ctx.scope!.table('invoices_templates').orderBy('created_at', 'desc').orderBy('id', 'desc').limit(200).select(TEMPLATE_COLS)) as Array<Record<string, unknown>>).map(normTemplate);
    const totals = await Promise.all(rows.map(async (t) => invoiceTotals(await templateLinesOf(db, t.workspace_id, t.id), settings.taxMode).total));
    await req.ctx.render(
      'invoices/recurring-list',
      {
        listHref: `${base(req)}/`,
        newHref: `${base(req)}/recurring/new`,
        templates: rows.map((t, i) => ({
          href: `${base(req)}/recurring/${t.id}`,
          name: t.name,
          schedule: describeSchedule(t),
          total: formatMoney(totals[i]!, t.currency),
          paused: t.status === 'paused',
          next: t.status === 'paused' ? null : calendarDay(t.next_at),
          autoSend: t.auto_send,
        })),
      },
      { title: 'Recurring invoices' },
    );
  });

  const frequencies = (v: string) => (Object.keys(FREQUENCY_LABELS) as Frequency[]).map((f) => ({ value: f, label: FREQUENCY_LABELS[f], selected: f === v }));
  const termsOptions = (v: string) =>
    [
      { value: '0', label: 'Due on receipt' },
      { value: '15', label: 'Net 15 (15 days)' },
      { value: '30', label: 'Net 30 (30 days)' },
      { value: 'custom', label: 'Another number of days' },
    ].map((o) => ({ ...o, selected: o.value === v }));

  async function editor(req: Request, values: TemplateValues, opts: { template?: TemplateRow; errors?: Record<string, string>; status?: number }) {
    const errors = opts.errors ?? {};
    const m = editorModel(values, settings.taxMode, errors, rate());
    const t = opts.template;
    const runs = t
      ? ((await db('invoices_template_runs as r')
          .leftJoin('invoices_invoices as i', function () {
            this.on('i.id', '=', 'r.invoice_id').andOn('i.workspace_id', '=', 'r.workspace_id');
          })
          .where({ 'r.workspace_id': t.workspace_id, 'r.template_id': t.id })
          .orderBy('r.period', 'desc')
          .limit(24)
          .select('r.period', 'r.invoice_id', 'i.number', 'i.status')) as Array<Record<string, unknown>>)
      : [];
    await req.ctx.render(
      'invoices/recurring-edit',
      {
        action: t ? `${base(req)}/recurring/${t.id}` : `${base(req)}/recurring/new`,
        listHref: `${base(req)}/`,
        recurringHref: `${base(req)}/recurring`,
        isNew: !t,
        paused: t?.status === 'paused',
        next: t && t.status === 'active' ? calendarDay(t.next_at) : null,
        following: t && t.status === 'active' ? calendarDay(periodAt(scheduleOf(t), t.next_index + 1).at) : null,
        pauseAction: t ? `${base(req)}/recurring/${t.id}/pause` : null,
        resumeAction: t ? `${base(req)}/recurring/${t.id}/resume` : null,
        runs: runs.map((r) => ({ period: String(r.period), href: r.invoice_id ? `${base(req)}/i/${r.invoice_id}` : null, title: r.number ? `Invoice ${r.number}` : 'Draft invoice', draft: r.status === 'draft' })),
        values,
        errors,
        hasErrors: Object.keys(errors).length > 0,
        rows: m.rows,
        totals: m.totals,
        canAdd: m.rows.length < settings.maxLines,
        maxLines: settings.maxLines,
        inclusive: settings.taxMode === 'inclusive',
        currencies: CURRENCY_CODES.map((c) => ({ value: c, label: c, selected: c === values.currency })),
        terms: termsOptions(values.termsDays),
        frequencies: frequencies(values.frequency),
        autoSendOptions: [
          { value: 'no', label: 'Make a draft for us to check and issue', selected: values.autoSend !== 'yes' },
          { value: 'yes', label: 'Issue it and tell the client automatically', selected: values.autoSend === 'yes' },
        ],
      },
      { title: t ? `Recurring invoice: ${t.name}` : 'New recurring invoice', status: opts.status ?? 200 },
    );
  }

  const now = () => new Date(deps.clock.now());
  const defaults = (): TemplateValues => {
    const d = now();
    return {
      name: '',
      frequency: 'monthly',
      dayOfMonth: '1',
      startMonth: `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`,
      autoSend: 'no',
      currency: settings.currency,
      termsDays: ['0', '15', '30'].includes(String(settings.termsDays)) ? String(settings.termsDays) : 'custom',
      customDays: ['0', '15', '30'].includes(String(settings.termsDays)) ? '' : String(settings.termsDays),
      notes: '',
      terms: '',
      lines: [blankLine(rate())],
    };
  };

  /** Add/remove a row or recalculate (the form again, nothing saved), or the template to save. */
  async function post(req: Request, template?: TemplateRow) {
    const body = formBody(req.body) as Record<string, unknown>;
    const values = templateValues(body);
    const intent = typeof body.intent === 'string' ? body.intent : 'save';
    if (intent === 'add') {
      if (values.lines.length < settings.maxLines) values.lines.push(blankLine(rate()));
      await editor(req, values, { template });
      return null;
    }
    const remove = /^remove-(\d{1,3})$/.exec(intent);
    if (remove) {
      values.lines.splice(Number(remove[1]), 1);
      await editor(req, values, { template });
      return null;
    }
    const parsed = parseTemplate(values, settings.maxLines);
    if (!parsed.ok) {
      await editor(req, values, { template, errors: parsed.errors, status: 400 });
      return null;
    }
    if (intent === 'recalculate') {
      await editor(req, values, { template });
      return null;
    }
    return parsed.value;
  }

  workspace.get('/recurring/new', authorize('issue', 'Invoice'), async (req) => {
    await editor(req, defaults(), {});
  });

  workspace.post('/recurring/new', authorize('issue', 'Invoice'), async (req, res) => {
    const input = await post(req);
    if (!input) return;
    const id = await createTemplate(deps, wsOf(req), req.ctx.actor(), input);
    await req.ctx.flash('success', `Recurring invoice saved. ${input.autoSend ? 'Each period’s invoice is issued automatically.' : 'Each period’s invoice waits as a draft for you to issue.'}`);
    res.redirect(303, `${base(req)}/recurring/${id}`);
  });

  workspace.get('/recurring/:templateId', authorize('issue', 'Invoice'), async (req) => {
    const t = await find(req);
    const digits = minorDigits(t.currency);
    const lines = await templateLinesOf(db, t.workspace_id, t.id);
    const y = Math.floor(t.anchor_month / 12);
    await editor(req, {
      name: t.name,
      frequency: frequencyOf(t.interval_months),
      dayOfMonth: String(t.day_of_month),
      startMonth: `${y}-${String(t.anchor_month - y * 12 + 1).padStart(2, '0')}`,
      autoSend: t.auto_send ? 'yes' : 'no',
      currency: t.currency,
      termsDays: ['0', '15', '30'].includes(String(t.terms_days)) ? String(t.terms_days) : 'custom',
      customDays: ['0', '15', '30'].includes(String(t.terms_days)) ? '' : String(t.terms_days),
      notes: t.notes,
      terms: t.terms,
      lines: lines.map((l) => ({ description: l.description, quantity: formatQuantity(l.quantity).replace(/,/g, ''), unitPrice: decimalString(l.unitPrice, digits), taxRate: formatRate(l.taxRate), discount: l.discount ? formatRate(l.discount) : '' })),
    }, { template: t });
  });

  workspace.post('/recurring/:templateId', authorize('issue', 'Invoice'), async (req, res) => {
    const t = await find(req);
    const input = await post(req, t);
    if (!input) return;
    await updateTemplate(deps, wsOf(req), req.ctx.actor(), t.id, input);
    await req.ctx.flash('success', 'Recurring invoice saved. Invoices already made are not changed.');
    res.redirect(303, `${base(req)}/recurring/${t.id}`);
  });

  for (const [verb, paused] of [['pause', true], ['resume', false]] as const) {
    workspace.post(`/recurring/:templateId/${verb}`, authorize('issue', 'Invoice'), async (req, res) => {
      const t = await find(req);
      try {
        await setTemplatePaused(deps, wsOf(req), req.ctx.actor(), t.id, paused);
        await req.ctx.flash('success', paused ? 'Paused: no invoice is made until you resume it.' : 'Resumed: the next invoice is made on its next date (the periods while it was paused are skipped).');
      } catch (err) {
        if (!(err instanceof Refusal)) throw err;
        await req.ctx.flash('error', err.message);
      }
      res.redirect(303, `${base(req)}/recurring/${t.id}`);
    });
  }
}
