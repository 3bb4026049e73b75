// Plugin `team`: shows a client who their account team is (the firm staff assigned to their
// workspace) and who else in their organisation has access. Reads only kernel data.
import { z } from 'zod';
import { definePlugin, membersOf } from '../../core/index.ts';

const ROLE_LABELS: Record<string, string> = {
  client_admin: 'Administrator',
  client_member: 'Member',
  client_viewer: 'Viewer',
  staff: 'Account team',
};

/**
 * Where those who may assign firm staff to this workspace do it (its admin page), for the empty
 * account team; undefined for everyone else (clients, and staff who cannot assign).
 */
function assignHref(ctx: { ability: { can(action: string, subject: string): boolean }; workspace?: { id: string } | null }): string | undefined {
  return ctx.workspace && ctx.ability.can('create', 'Member') && ctx.ability.can('update', 'Workspace') ? `/admin/workspaces/${ctx.workspace.id}#team` : undefined;
}

export default definePlugin({
  id: 'team',
  version: '1.0.0',
  kernel: '^1.0.0',
  description: 'Your account team and your colleagues, on a page and a home-page card.',
  views: new URL('./views', import.meta.url),
  settings: z.strictObject({ widgetLimit: z.number().int().min(1).max(20).default(4) }),
  permissions: {
    subjects: { Team: ['read'] },
    grants: {
      staff: [{ action: 'read', subject: 'Team' }],
      client_admin: [{ action: 'read', subject: 'Team' }],
      client_member: [{ action: 'read', subject: 'Team' }],
      client_viewer: [{ action: 'read', subject: 'Team' }],
    },
  },
  nav: [{ area: 'workspace', label: 'Team', path: '/team', can: ['read', 'Team'], order: 80 }],
  widgets: [
    {
      id: 'account-team',
      area: 'workspace',
      title: 'Your account team',
      view: 'team/widget',
      can: ['read', 'Team'],
      order: 90,
      async load({ ctx, db, settings }) {
        const limit = (settings as { widgetLimit: number }).widgetLimit;
        const staff = await membersOf(db, ctx.workspace!.id, { staff: true, limit });
        return { staff: staff.map((m) => ({ name: m.name, email: m.email })), teamHref: `/w/${ctx.workspace!.slug}/team`, assignHref: assignHref(ctx) };
      },
    },
  ],
  routes({ workspace }, { db }) {
    workspace.get('/', async (req, _res, next) => {
      if (!req.ctx.ability.can('read', 'Team')) return next();
      const wsId = req.ctx.workspace!.id;
      const [staff, clients] = await Promise.all([membersOf(db, wsId, { staff: true }), membersOf(db, wsId, { staff: false })]);
      const view = (m: { name: string; email: string; role: string }) => ({ name: m.name, email: m.email, role: ROLE_LABELS[m.role] ?? m.role });
      await req.ctx.render('team/page', { staff: staff.map(view), clients: clients.map(view), assignHref: assignHref(req.ctx) }, { title: 'Team' });
    });
  },
});
