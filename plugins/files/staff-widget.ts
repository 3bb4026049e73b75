// The staff overview's "Client uploads" card: what clients uploaded in the last 14 days across the
// workspaces this person works in, newest first. One query (the count rides along as a window).
import { workspacesQueryFor, type Widget } from '../../core/index.ts';

const DAYS = 14;

export const clientUploadsWidget: Widget = {
  id: 'client-uploads',
  area: 'staff',
  title: 'Client uploads',
  view: 'files/staff-widget',
  can: ['upload', 'Folder'],
  order: 20,
  async load({ ctx, db, now }) {
    const mine = workspacesQueryFor(db, ctx.user!).select('w.id');
    const rows = (await db('files_versions as v')
      .join('files_files as f', function () {
        this.on('f.id', '=', 'v.file_id').andOn('f.workspace_id', '=', 'v.workspace_id');
      })
      // A client of that workspace: anyone there who is not its account team.
      .join('memberships as cm', function () {
        this.on('cm.workspace_id', '=', 'v.workspace_id').andOn('cm.user_id', '=', 'v.uploaded_by');
      })
      .join('workspaces as ws', 'ws.id', 'v.workspace_id')
      .join('users as u', 'u.id', 'v.uploaded_by')
      .whereIn('v.workspace_id', mine)
      .whereNot('cm.role', 'staff')
      .whereNull('f.deleted_at')
      .where('v.created_at', '>', now - DAYS * 86_400_000)
      .orderBy('v.created_at', 'desc')
      .limit(5)
      .select('f.id', 'f.name', 'ws.slug', 'ws.name as workspace', 'u.name as who', 'v.created_at', db.raw('count(*) over () as total'))) as Array<Record<string, unknown>>;
    return {
      count: rows.length ? Number(rows[0]!.total) : 0,
      days: DAYS,
      items: rows.map((r) => ({ name: String(r.name), href: `/w/${r.slug}/files/f/${r.id}`, who: String(r.who), workspace: String(r.workspace), at: Number(r.created_at) })),
    };
  },
};
