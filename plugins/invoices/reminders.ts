// Payment reminders: before the due date and after it, on the firm's schedule (settings
// `reminders.beforeDays` and `.afterDays`), to the client's people who may read invoices, as a
// notice through the kernel (mailed by each person's preference) linking to the invoice in the
// portal: whoever is not signed in signs in first and lands on it. Never for a draft, a void or a
// paid invoice (nor one whose credit notes leave nothing to pay).
//
// Steps are `before-<n>` (due date - n days) and `after-<n>` (due date + n days). A run sends an
// invoice the latest step whose moment has come: before the due date, the latest `before` step
// that came after the invoice was issued (an invoice issued two days before it is due gets no
// "due in 3 days"); after it, the latest `after` step. A step missed while no job ran is not sent
// late once a later one is due. Each step is sent once per invoice: a UNIQUE (invoice, step) row
// claimed in the transaction that writes the notices and the audit event, so two processes
// running at once send it once.
import { newId, transaction, type Db, type Trx } from '../../core/index.ts';
import { formatMoney } from './money.ts';
import { OPEN, dayIn, findInvoiceRow, owedOf, owedSql, type InvoiceRow, type InvoicesDeps, type Status, type Ws } from './service.ts';
import type { InvoicesSettings } from './settings.ts';

const DAY = 86_400_000;

/** The step due for this invoice at `now`, or null. */
export function reminderStep(inv: Pick<InvoiceRow, 'issued_at' | 'due_at'>, now: number, r: InvoicesSettings['reminders']): string | null {
  if (inv.due_at === null || inv.issued_at === null) return null;
  if (now < inv.due_at) {
    const before = [...r.beforeDays].sort((a, b) => a - b).find((n) => inv.due_at! - n * DAY <= now && inv.due_at! - n * DAY >= inv.issued_at!);
    return before === undefined ? null : `before-${before}`;
  }
  const after = [...r.afterDays].sort((a, b) => b - a).find((n) => inv.due_at! + n * DAY <= now);
  return after === undefined ? null : `after-${after}`;
}

async function wsOf(db: Db | Trx, id: string): Promise<Ws> {
  const w = (await db('workspaces').where({ id }).first('id', 'slug', 'name')) as Record<string, unknown>;
  return { id: String(w.id), slug: String(w.slug), name: String(w.name) };
}

/** Send `step` for one invoice if it is still due and not sent yet; returns the notices written. */
export async function remind(deps: InvoicesDeps, workspaceId: string, invoiceId: string, step: string): Promise<number> {
  return transaction(deps.db, async (trx) => {
    const inv = await findInvoiceRow(trx, workspaceId, invoiceId);
    const now = deps.clock.now();
    if (!inv || !OPEN.includes(inv.status) || owedOf(inv) <= 0 || reminderStep(inv, now, deps.settings.reminders) !== step) return 0;
    const id = newId();
    await trx('invoices_reminders').insert({ id, workspace_id: workspaceId, invoice_id: invoiceId, step, sent_at: now }).onConflict(['invoice_id', 'step']).ignore();
    const won = (await trx('invoices_reminders').where({ workspace_id: workspaceId, invoice_id: invoiceId, step }).first('id')) as { id: string } | undefined;
    if (!won || String(won.id) !== id) return 0;
    const ws = await wsOf(trx, workspaceId);
    const brand = await deps.branding.get(trx);
    const due = dayIn(inv.due_at!, brand.timeZone);
    const owed = formatMoney(owedOf(inv), inv.currency);
    const late = step.startsWith('after-');
    const readers = (await deps.approvables.peopleWhoCan(trx, workspaceId, 'read', 'Invoice')).filter((p) => !p.staff);
    await deps.notifications.notify(
      trx,
      readers.map((p) => ({
        userId: p.userId,
        workspaceId,
        kind: 'invoices.reminder',
        subject: late ? `Invoice ${inv.number} from ${brand.firmName} is overdue` : `Invoice ${inv.number} from ${brand.firmName} is due on ${due}`,
        text: late
          ? `Invoice ${inv.number} was due on ${due} and ${owed} is still to pay. Sign in to see it, download the PDF and pay it. If you have paid it already, thank you: please ignore this reminder.`
          : `A reminder: invoice ${inv.number} is due on ${due}, with ${owed} to pay. Sign in to see it and download the PDF.`,
        link: `/w/${ws.slug}/invoices/i/${invoiceId}`,
      })),
    );
    await deps.audit.record(trx, { actorId: null, ip: null, userAgent: null, workspaceId, action: 'invoices.invoice.remind', subjectType: 'Invoice', subjectId: invoiceId, detail: { step, to: readers.length } });
    deps.events.publish(trx, 'invoices.invoice.reminded', { workspaceId, invoiceId, step });
    return readers.length;
  });
}

/** The job: every open invoice with something to pay whose next step has come. */
export async function runReminders(deps: InvoicesDeps): Promise<{ sent: number; notices: number }> {
  const r = deps.settings.reminders;
  if (!r.beforeDays.length && !r.afterDays.length) return { sent: 0, notices: 0 };
  const now = deps.clock.now();
  const horizon = now + Math.max(0, ...r.beforeDays) * DAY;
  const last = r.afterDays.length ? `after-${Math.max(...r.afterDays)}` : null;
  const rows = (await deps.db('invoices_invoices as i')
    .whereIn('i.status', OPEN as Status[])
    .whereNotNull('i.due_at')
    .andWhere('i.due_at', '<=', horizon)
    .andWhereRaw(`${owedSql('i.')} > 0`)
    // Those that had their last reminder have nothing more to come.
    .modify((q) => (last ? q.whereNotExists(deps.db('invoices_reminders as r').select(deps.db.raw('1')).whereRaw('r.invoice_id = i.id').andWhere('r.step', last)) : q))
    .orderBy('i.due_at')
    .limit(1000)
    .select('i.id', 'i.workspace_id', 'i.issued_at', 'i.due_at')) as Array<Record<string, unknown>>;
  const result = { sent: 0, notices: 0 };
  for (const row of rows) {
    const step = reminderStep({ issued_at: Number(row.issued_at), due_at: Number(row.due_at) }, now, r);
    if (!step) continue;
    try {
      const n = await remind(deps, String(row.workspace_id), String(row.id), step);
      if (n) {
        result.sent++;
        result.notices += n;
      }
    } catch (err) {
      deps.logger.error({ err, invoiceId: row.id }, 'invoice reminder failed');
    }
  }
  return result;
}
