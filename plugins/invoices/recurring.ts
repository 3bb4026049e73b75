// Recurring invoices for retainers: a template per workspace (lines, currency, terms, notes) on a
// schedule (schedule.ts), active or paused, that either issues each period's invoice itself ("send
// automatically") or leaves a draft for staff to review. The job (runRecurring, run by the kernel's
// job runner: jobs.ts in this plugin) makes each period's invoice exactly once across processes:
//   1. the template row's `next_index` moves on by a conditional UPDATE (`where next_index = k`):
//      one transaction wins the period, a second one waits on the row and then changes nothing;
//   2. the period's run row is UNIQUE (template, period): even a runner that got past (1) (a
//      schedule edited back onto a month already issued) cannot make a second invoice for it;
//   3. the draft is made in that same transaction. Issuing it ("send automatically") is a second
//      transaction (service.ts's issueInvoice, which refuses an invoice already issued), and a run
//      whose draft was left unissued by a crash is issued by the next run.
// Catching up after downtime: each missed period gets its own invoice, oldest first, issued (or
// drafted) now; resuming a paused template skips the periods that passed while it was paused.
import { AtriumError, newId, transaction, type Db, type Trx } from '../../core/index.ts';
import { Refusal, createDraft, issueInvoice, type Actor, type DraftInput, type DraftLine, type InvoicesDeps, type Ws } from './service.ts';
import { firstOnOrAfter, periodAt, withPeriod, type Schedule } from './schedule.ts';

export interface TemplateInput extends DraftInput {
  name: string;
  schedule: Schedule;
  autoSend: boolean;
}

export interface TemplateRow {
  id: string;
  workspace_id: string;
  name: string;
  status: 'active' | 'paused';
  currency: string;
  terms_days: number;
  notes: string;
  terms: string;
  interval_months: number;
  day_of_month: number;
  anchor_month: number;
  next_index: number;
  next_at: number;
  auto_send: boolean;
  created_at: number;
  updated_at: number;
}

export const TEMPLATE_COLS = ['id', 'workspace_id', 'name', 'status', 'currency', 'terms_days', 'notes', 'terms', 'interval_months', 'day_of_month', 'anchor_month', 'next_index', 'next_at', 'auto_send', 'created_at', 'updated_at'];

export function normTemplate(r: Record<string, unknown>): TemplateRow {
  return {
    id: String(r.id),
    workspace_id: String(r.workspace_id),
    name: String(r.name),
    status: String(r.status) === 'paused' ? 'paused' : 'active',
    currency: String(r.currency),
    terms_days: Number(r.terms_days),
    notes: String(r.notes ?? ''),
    terms: String(r.terms ?? ''),
    interval_months: Number(r.interval_months),
    day_of_month: Number(r.day_of_month),
    anchor_month: Number(r.anchor_month),
    next_index: Number(r.next_index),
    next_at: Number(r.next_at),
    auto_send: Boolean(r.auto_send),
    created_at: Number(r.created_at),
    updated_at: Number(r.updated_at),
  };
}

export const scheduleOf = (t: Pick<TemplateRow, 'anchor_month' | 'interval_months' | 'day_of_month'>): Schedule => ({ anchorMonth: t.anchor_month, intervalMonths: t.interval_months, dayOfMonth: t.day_of_month });

export async function findTemplate(db: Db | Trx, workspaceId: string, id: string): Promise<TemplateRow | undefined> {
  const r = (await db('invoices_templates').where({ workspace_id: workspaceId, id }).first(TEMPLATE_COLS)) as Record<string, unknown> | undefined;
  return r ? normTemplate(r) : undefined;
}

export async function templateLinesOf(db: Db | Trx, workspaceId: string, templateId: string): Promise<DraftLine[]> {
  const rows = (await db('invoices_template_lines').where({ workspace_id: workspaceId, template_id: templateId }).orderBy('position')) as Array<Record<string, unknown>>;
  return rows.map((r) => ({ description: String(r.description), quantity: Number(r.quantity), unitPrice: Number(r.unit_price), taxRate: Number(r.tax_rate), discount: Number(r.discount) }));
}

async function writeLines(trx: Trx, ws: Ws, templateId: string, lines: DraftLine[]) {
  await trx('invoices_template_lines').where({ workspace_id: ws.id, template_id: templateId }).delete();
  if (lines.length) {
    await trx('invoices_template_lines').insert(lines.map((l, i) => ({ id: newId(), workspace_id: ws.id, template_id: templateId, position: i + 1, description: l.description, quantity: l.quantity, unit_price: l.unitPrice, tax_rate: l.taxRate, discount: l.discount })));
  }
}

const audit = (deps: InvoicesDeps, trx: Trx, ws: Ws, actor: Actor, action: string, id: string, detail?: Record<string, unknown>) =>
  deps.audit.record(trx, { ...actor, workspaceId: ws.id, action: `invoices.template.${action}`, subjectType: 'InvoiceTemplate', subjectId: id, detail });

export async function createTemplate(deps: InvoicesDeps, ws: Ws, actor: Actor, input: TemplateInput): Promise<string> {
  return transaction(deps.db, async (trx) => {
    const id = newId();
    const now = deps.clock.now();
    const next = firstOnOrAfter(input.schedule, now);
    await trx('invoices_templates').insert({
      id,
      workspace_id: ws.id,
      name: input.name,
      status: 'active',
      currency: input.currency,
      terms_days: input.termsDays,
      notes: input.notes,
      terms: input.terms,
      interval_months: input.schedule.intervalMonths,
      day_of_month: input.schedule.dayOfMonth,
      anchor_month: input.schedule.anchorMonth,
      next_index: next.index,
      next_at: next.at,
      auto_send: input.autoSend,
      created_by: actor.actorId ?? null,
      created_at: now,
      updated_at: now,
    });
    await writeLines(trx, ws, id, input.lines);
    await audit(deps, trx, ws, actor, 'create', id, { next: next.key, autoSend: input.autoSend });
    deps.events.publish(trx, 'invoices.template.created', { workspaceId: ws.id, templateId: id });
    return id;
  });
}

/** A changed template: its next period is computed again from today (a period already issued is never issued twice: the runs' unique key). */
export async function updateTemplate(deps: InvoicesDeps, ws: Ws, actor: Actor, id: string, input: TemplateInput): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const t = await findTemplate(trx, ws.id, id);
    if (!t) throw new AtriumError('ATR_NOT_FOUND', 'no such recurring invoice', { status: 404 });
    const now = deps.clock.now();
    const next = firstOnOrAfter(input.schedule, now);
    await trx('invoices_templates').where({ workspace_id: ws.id, id }).update({
      name: input.name,
      currency: input.currency,
      terms_days: input.termsDays,
      notes: input.notes,
      terms: input.terms,
      interval_months: input.schedule.intervalMonths,
      day_of_month: input.schedule.dayOfMonth,
      anchor_month: input.schedule.anchorMonth,
      next_index: next.index,
      next_at: next.at,
      auto_send: input.autoSend,
      updated_at: now,
    });
    await writeLines(trx, ws, id, input.lines);
    await audit(deps, trx, ws, actor, 'update', id, { next: next.key, autoSend: input.autoSend });
    deps.events.publish(trx, 'invoices.template.updated', { workspaceId: ws.id, templateId: id });
  });
}

/** Pause or resume. Resuming starts again at the first period from today: the paused ones are skipped. */
export async function setTemplatePaused(deps: InvoicesDeps, ws: Ws, actor: Actor, id: string, paused: boolean): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const t = await findTemplate(trx, ws.id, id);
    if (!t) throw new AtriumError('ATR_NOT_FOUND', 'no such recurring invoice', { status: 404 });
    if ((t.status === 'paused') === paused) throw new Refusal(paused ? 'This recurring invoice is already paused.' : 'This recurring invoice is already running.');
    const now = deps.clock.now();
    const next = paused ? null : firstOnOrAfter(scheduleOf(t), now);
    const n = await trx('invoices_templates')
      .where({ workspace_id: ws.id, id, status: t.status })
      .update({ status: paused ? 'paused' : 'active', updated_at: now, ...(next ? { next_index: Math.max(next.index, t.next_index), next_at: periodAt(scheduleOf(t), Math.max(next.index, t.next_index)).at } : {}) });
    if (!n) throw new Refusal('The recurring invoice changed while you were looking: try again.');
    await audit(deps, trx, ws, actor, paused ? 'pause' : 'resume', id);
    deps.events.publish(trx, paused ? 'invoices.template.paused' : 'invoices.template.resumed', { workspaceId: ws.id, templateId: id });
  });
}

const SYSTEM: Actor = { actorId: null, ip: null, userAgent: null };
/** At most this many missed periods of one template are made in one run (the next run goes on). */
const CATCH_UP = 24;

async function wsOf(db: Db | Trx, id: string): Promise<Ws> {
  const w = (await db('workspaces').where({ id }).first('id', 'slug', 'name')) as Record<string, unknown>;
  return { id: String(w.id), slug: String(w.slug), name: String(w.name) };
}

/**
 * Make template `id`'s next period if it is due; returns what happened. One transaction: the
 * period claimed on the template row, the run row (unique), the draft, the audit event.
 */
export async function runPeriod(deps: InvoicesDeps, workspaceId: string, id: string, now: number): Promise<{ claimed: boolean; invoiceId?: string; autoSend?: boolean; period?: string }> {
  return transaction(deps.db, async (trx) => {
    const t = await findTemplate(trx, workspaceId, id);
    if (!t || t.status !== 'active' || t.next_at > now) return { claimed: false };
    const s = scheduleOf(t);
    const period = periodAt(s, t.next_index);
    const after = periodAt(s, t.next_index + 1);
    const n = await trx('invoices_templates')
      .where({ workspace_id: workspaceId, id, status: 'active', next_index: t.next_index })
      .update({ next_index: after.index, next_at: after.at, updated_at: now });
    if (!Number(n)) return { claimed: false }; // another runner took this period
    const runId = newId();
    await trx('invoices_template_runs').insert({ id: runId, workspace_id: workspaceId, template_id: id, period: period.key, invoice_id: null, auto_send: t.auto_send, created_at: now }).onConflict(['template_id', 'period']).ignore();
    const won = (await trx('invoices_template_runs').where({ workspace_id: workspaceId, template_id: id, period: period.key }).first('id')) as { id: string } | undefined;
    if (!won || String(won.id) !== runId) return { claimed: true, period: period.key }; // this month already has its invoice
    const ws = await wsOf(trx, workspaceId);
    const lines = (await templateLinesOf(trx, workspaceId, id)).map((l) => ({ ...l, description: withPeriod(l.description, period).slice(0, 300) }));
    const invoiceId = await createDraft(deps, trx, ws, SYSTEM, { currency: t.currency, termsDays: t.terms_days, notes: withPeriod(t.notes, period), terms: t.terms, lines });
    await trx('invoices_template_runs').where({ workspace_id: workspaceId, id: runId }).update({ invoice_id: invoiceId });
    await audit(deps, trx, ws, SYSTEM, 'run', id, { period: period.key, invoiceId, autoSend: t.auto_send });
    deps.events.publish(trx, 'invoices.template.ran', { workspaceId, templateId: id, invoiceId });
    return { claimed: true, invoiceId, autoSend: t.auto_send, period: period.key };
  });
}

async function issueQuietly(deps: InvoicesDeps, workspaceId: string, invoiceId: string): Promise<boolean> {
  try {
    await issueInvoice(deps, await wsOf(deps.db, workspaceId), SYSTEM, invoiceId);
    return true;
  } catch (err) {
    // Already issued by another runner, or not issuable (a template whose lines total zero): the
    // draft stays for staff to see; anything else is logged and the next run tries again.
    if (!(err instanceof Refusal)) throw err;
    deps.logger.info({ invoiceId, reason: err.message }, 'recurring invoice left as a draft');
    return false;
  }
}

/** The job: every active template's due periods, each once, oldest first. */
export async function runRecurring(deps: InvoicesDeps): Promise<{ created: number; issued: number }> {
  const now = deps.clock.now();
  const result = { created: 0, issued: 0 };
  // Drafts a crash left unissued for templates that send automatically: issued now.
  const stranded = (await deps.db('invoices_template_runs as r')
    .join('invoices_invoices as i', function () {
      this.on('i.id', '=', 'r.invoice_id').andOn('i.workspace_id', '=', 'r.workspace_id');
    })
    .where('r.auto_send', true)
    .where('i.status', 'draft')
    .limit(200)
    .select('r.workspace_id', 'r.invoice_id')) as Array<{ workspace_id: string; invoice_id: string }>;
  for (const s of stranded) if (await issueQuietly(deps, String(s.workspace_id), String(s.invoice_id))) result.issued++;

  const due = (await deps.db('invoices_templates').where('status', 'active').andWhere('next_at', '<=', now).orderBy('next_at').orderBy('id').limit(500).select('id', 'workspace_id')) as Array<{ id: string; workspace_id: string }>;
  for (const t of due) {
    try {
      for (let i = 0; i < CATCH_UP; i++) {
        const r = await runPeriod(deps, String(t.workspace_id), String(t.id), now);
        if (!r.claimed) break;
        if (!r.invoiceId) continue;
        result.created++;
        if (r.autoSend && (await issueQuietly(deps, String(t.workspace_id), r.invoiceId))) result.issued++;
      }
    } catch (err) {
      deps.logger.error({ err, templateId: t.id }, 'recurring invoice failed');
    }
  }
  return result;
}
