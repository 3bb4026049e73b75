// The staff overview's "Recent activity" card: the newest events across the client workspaces a
// person works in, as sentences, each only if that person may read its subject (the same audit
// rules as a workspace's Activity page, correlated per event's workspace). Two queries: the
// person's workspaces, then the events with their actors; plus one per subject type for names.
import type { Knex } from 'knex';
import { workspacesQuery } from './identity/users.ts';
import type { PermissionRegistry } from './permissions.ts';
import type { Widget } from './plugins/define.ts';
import type { ActivityRow } from './activity.ts';

const FEED_SIZE = 10;
const WORKSPACES = 500;

export function activityFeedWidget(permissions: PermissionRegistry, branding: { get(): Promise<{ firmName: string }> }): Widget {
  return {
    id: 'recent-activity',
    area: 'staff',
    title: 'Recent activity',
    view: 'core/activity-feed',
    can: ['read', 'AuditLog'],
    order: 50,
    async load({ ctx, db }) {
      const user = ctx.user!;
      const workspaces = (await workspacesQuery(db, user).orderBy('w.name').limit(WORKSPACES).select('w.id', 'w.slug', 'w.name')) as Array<{ id: string; slug: string; name: string }>;
      if (!workspaces.length) return { items: [], none: true };
      const ids = workspaces.map((w) => String(w.id));
      const byId = new Map(workspaces.map((w) => [String(w.id), w]));
      // A scope over all of them, for rules that bring their own query (approvals).
      const scope = { table: (table: string, alias?: string): Knex.QueryBuilder => db(alias ? `${table} as ${alias}` : table).whereIn(`${alias ?? table}.workspace_id`, ids) };
      const visible = permissions.audit.filter({ ability: ctx.ability, userId: user.id, workspaceId: ids[0]!, workspaceRole: user.firmRole ? 'staff' : null, scope, db });
      const rows = (await db('audit_events as e')
        .leftJoin('users as u', 'u.id', 'e.actor_id')
        .whereIn('e.workspace_id', ids)
        .modify(visible)
        .orderBy('e.seq', 'desc')
        .limit(FEED_SIZE)
        .select('e.id', 'e.created_at', 'e.action', 'e.workspace_id', 'e.subject_type', 'e.subject_id', 'e.actor_id', 'e.detail', 'u.name as actor_name')) as Array<ActivityRow & { created_at: unknown }>;
      const sentences = await permissions.activity.describe(db, permissions.audit, new Map(workspaces.map((w) => [String(w.id), w.slug])), rows, { firmName: (await branding.get()).firmName });
      return {
        items: rows.map((r, i) => {
          const ws = byId.get(String(r.workspace_id))!;
          return { sentence: sentences[i], workspace: ws.name, href: `/w/${ws.slug}/audit`, at: Number(r.created_at) };
        }),
      };
    },
  };
}
