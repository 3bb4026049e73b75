// The staff overview's "Approvals needing the firm" card: requests where a client asked for
// changes, and requests past their due date with no answer, across the workspaces this person
// works in. One query (the count rides along as a window).
import { workspacesQueryFor, type Widget } from '../../core/index.ts';

export const needsFirmWidget: Widget = {
  id: 'needs-firm',
  area: 'staff',
  title: 'Approvals needing the firm',
  view: 'approvals/staff-widget',
  can: ['create', 'Approval'],
  order: 10,
  async load({ ctx, db, now }) {
    const mine = workspacesQueryFor(db, ctx.user!).select('w.id');
    const rows = (await db('approvals_requests as r')
      .join('workspaces as ws', 'ws.id', 'r.workspace_id')
      .whereIn('r.workspace_id', mine)
      .where(function () {
        this.where('r.status', 'changes_requested').orWhere(function () {
          this.where('r.status', 'pending').whereNotNull('r.due_at').where('r.due_at', '<', now);
        });
      })
      .orderBy('r.updated_at', 'desc')
      .limit(5)
      .select('r.id', 'r.title', 'r.status', 'r.due_at', 'r.updated_at', 'ws.slug', 'ws.name as workspace', db.raw('count(*) over () as total'))) as Array<Record<string, unknown>>;
    const count = rows.length ? Number(rows[0]!.total) : 0;
    return {
      count,
      more: count - rows.length,
      items: rows.map((r) => ({
        title: String(r.title),
        href: `/w/${r.slug}/approvals/r/${r.id}`,
        workspace: String(r.workspace),
        changes: r.status === 'changes_requested',
        at: Number(r.status === 'changes_requested' ? r.updated_at : r.due_at),
      })),
    };
  },
};
