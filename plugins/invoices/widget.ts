// The workspace home's "Invoices" card, for people who may read invoices: how many are still to
// pay (and how many overdue), the five due soonest. Through the scope and the row filter.
import { accessibleBy, type Widget } from '../../core/index.ts';
import { formatMoney } from './money.ts';

export const toPayWidget: Widget = {
  id: 'to-pay',
  area: 'workspace',
  title: 'Invoices',
  view: 'invoices/widget',
  can: ['read', 'Invoice'],
  order: 35,
  async load({ ctx, db, now }) {
    const rows = (await ctx.scope!.table('invoices_invoices')
      .modify(accessibleBy(ctx.ability, 'read', 'Invoice'))
      .whereIn('status', ['issued', 'viewed', 'partially_paid'])
      .orderBy('due_at')
      .orderBy('id')
      .limit(5)
      .select('id', 'number', 'currency', 'total', 'paid_total', 'credited_total', 'due_at', db.raw('count(*) over () as n'), db.raw('sum(case when due_at < ? then 1 else 0 end) over () as late', [now]))) as Array<Record<string, unknown>>;
    const base = `/w/${ctx.workspace!.slug}/invoices`;
    return {
      count: rows.length ? Number(rows[0]!.n) : 0,
      overdue: rows.length ? Number(rows[0]!.late) : 0,
      items: rows.map((r) => ({ title: `Invoice ${r.number}`, href: `${base}/i/${r.id}`, amount: formatMoney(Number(r.total) - Number(r.paid_total) - Number(r.credited_total), String(r.currency)), dueAt: Number(r.due_at) })),
      href: `${base}/?status=open`,
    };
  },
};
