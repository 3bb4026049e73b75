// The staff overview's "Overdue invoices" card: issued invoices past their due date and not paid,
// across the workspaces this person works in, the longest overdue first. One query (the count
// rides along as a window).
import { workspacesQueryFor, type Widget } from '../../core/index.ts';
import { formatMoney } from './money.ts';

export const overdueWidget: Widget = {
  id: 'overdue',
  area: 'staff',
  title: 'Overdue invoices',
  view: 'invoices/staff-widget',
  can: ['issue', 'Invoice'],
  order: 40,
  async load({ ctx, db, now }) {
    const mine = workspacesQueryFor(db, ctx.user!).select('w.id');
    const rows = (await db('invoices_invoices as i')
      .join('workspaces as ws', 'ws.id', 'i.workspace_id')
      .whereIn('i.workspace_id', mine)
      .whereIn('i.status', ['issued', 'viewed', 'partially_paid'])
      .where('i.due_at', '<', now)
      .orderBy('i.due_at', 'asc')
      .orderBy('i.id')
      .limit(5)
      .select('i.id', 'i.number', 'i.currency', 'i.total', 'i.paid_total', 'i.credited_total', 'i.due_at', 'ws.slug', 'ws.name as workspace', db.raw('count(*) over () as n'))) as Array<Record<string, unknown>>;
    const count = rows.length ? Number(rows[0]!.n) : 0;
    return {
      count,
      more: count - rows.length,
      items: rows.map((r) => ({ title: `Invoice ${r.number}`, href: `/w/${r.slug}/invoices/i/${r.id}`, workspace: String(r.workspace), amount: formatMoney(Number(r.total) - Number(r.paid_total) - Number(r.credited_total), String(r.currency)), dueAt: Number(r.due_at) })),
    };
  },
};
