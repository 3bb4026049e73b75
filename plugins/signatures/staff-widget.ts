// The staff overview's "Waiting for signatures" card: envelopes still out for signature across
// the workspaces this person works in, the longest-waiting first. One query (count as a window).
import { workspacesQueryFor, type Widget } from '../../core/index.ts';

export const unsignedWidget: Widget = {
  id: 'unsigned',
  area: 'staff',
  title: 'Waiting for signatures',
  view: 'signatures/staff-widget',
  can: ['create', 'Envelope'],
  order: 30,
  async load({ ctx, db }) {
    const mine = workspacesQueryFor(db, ctx.user!).select('w.id');
    const rows = (await db('signatures_envelopes as e')
      .join('workspaces as ws', 'ws.id', 'e.workspace_id')
      .whereIn('e.workspace_id', mine)
      .where('e.status', 'sent')
      .orderBy('e.sent_at', 'asc')
      .limit(5)
      .select('e.id', 'e.title', 'e.sent_at', 'ws.slug', 'ws.name as workspace', db.raw('count(*) over () as total'))) as Array<Record<string, unknown>>;
    const count = rows.length ? Number(rows[0]!.total) : 0;
    return {
      count,
      more: count - rows.length,
      items: rows.map((r) => ({ title: String(r.title), href: `/w/${r.slug}/signatures/e/${r.id}`, workspace: String(r.workspace), at: Number(r.sent_at) })),
    };
  },
};
