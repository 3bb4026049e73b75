// The staff queue, /staff/approvals: requests across every workspace this person can open (their
// memberships; every workspace for owners and admins), filterable by status (by default what still
// needs the firm: waiting or changes requested), workspace and due date, overdue first and marked,
// a page at a time. htmx swaps only the results (aria-live).
import type { Request, Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { authorize, workspacesQueryFor } from '../../core/index.ts';
import { summary } from './models.ts';
import { DAY, REQUEST_COLS, STATUSES, normRequest, type ApprovalsDeps } from './service.ts';

// 'open', the default, is everything still needing the firm's attention: requests waiting for an
// answer, and those where changes were requested (the firm's move: a new version or a withdrawal).
const OPEN = ['pending', 'changes_requested'] as const;

const queueQuery = z.object({
  status: z.enum(['open', 'all', ...STATUSES]).catch('open').default('open'),
  workspace: z.string().max(64).regex(/^[a-z0-9-]*$/).catch('').default(''),
  due: z.enum(['any', 'overdue', 'week', 'none']).catch('any').default('any'),
  page: z.coerce.number().int().min(1).max(100_000).catch(1).default(1),
});

export function staffRoutes(staff: Router, deps: ApprovalsDeps): void {
  const { db, settings } = deps;

  staff.get('/', authorize('read', 'Approval'), async (req: Request) => {
    const q = queueQuery.parse(req.query);
    const now = deps.clock.now();
    const user = req.ctx.user!;
    const mine = workspacesQueryFor(db, user).select('w.id');
    const workspaces = (await workspacesQueryFor(db, user).orderBy('w.name').limit(500).select('w.id', 'w.slug', 'w.name')) as Array<{ id: string; slug: string; name: string }>;
    const rows = db('approvals_requests as r')
      .join('workspaces as ws', 'ws.id', 'r.workspace_id')
      .whereIn('r.workspace_id', mine)
      .modify((b: Knex.QueryBuilder) => {
        if (q.status === 'open') b.whereIn('r.status', OPEN);
        else if (q.status !== 'all') b.where('r.status', q.status);
        if (q.workspace) b.where('ws.slug', q.workspace);
        if (q.due === 'overdue') b.where('r.status', 'pending').whereNotNull('r.due_at').andWhere('r.due_at', '<', now);
        if (q.due === 'week') b.whereNotNull('r.due_at').andWhere('r.due_at', '>=', now).andWhere('r.due_at', '<', now + 7 * DAY);
        if (q.due === 'none') b.whereNull('r.due_at');
      });
    const total = Number(((await rows.clone().count({ n: '*' }).first()) as { n: number | string }).n);
    const pages = Math.max(1, Math.ceil(total / settings.pageSize));
    const page = Math.min(q.page, pages);
    const list = (await rows
      // Overdue first, then by due date (none last), newest first among equals.
      .orderByRaw('case when r.status = ? and r.due_at is not null and r.due_at < ? then 0 else 1 end', ['pending', now])
      .orderByRaw('case when r.due_at is null then 1 else 0 end')
      .orderBy('r.due_at', 'asc')
      .orderBy('r.created_at', 'desc')
      .limit(settings.pageSize)
      .offset((page - 1) * settings.pageSize)
      .select(...REQUEST_COLS.map((c) => `r.${c}`), 'ws.slug as ws_slug', 'ws.name as ws_name')) as Array<Record<string, unknown>>;
    const link = (p: number) => `/staff/approvals/?${new URLSearchParams({ status: q.status, workspace: q.workspace, due: q.due, page: String(p) })}`;
    const model = {
      requests: list.map((row) => {
        const r = normRequest(row);
        return { ...summary(r, `/w/${String(row.ws_slug)}/approvals/r/${r.id}`, now), workspaceName: String(row.ws_name) };
      }),
      total,
      page,
      pages,
      prev: page > 1 ? link(page - 1) : null,
      next: page < pages ? link(page + 1) : null,
      filters: {
        statuses: [{ value: 'open', label: 'Waiting or changes requested' }, { value: 'pending', label: 'Waiting' }, { value: 'all', label: 'All' }, { value: 'approved', label: 'Approved' }, { value: 'changes_requested', label: 'Changes requested' }, { value: 'cancelled', label: 'Withdrawn' }].map((s) => ({ ...s, selected: s.value === q.status })),
        workspaces: workspaces.map((w) => ({ value: w.slug, label: w.name, selected: w.slug === q.workspace })),
        dues: [{ value: 'any', label: 'Any' }, { value: 'overdue', label: 'Overdue' }, { value: 'week', label: 'Due within 7 days' }, { value: 'none', label: 'No due date' }].map((s) => ({ ...s, selected: s.value === q.due })),
      },
    };
    if (req.get('hx-request') && req.get('hx-target') === 'approvals-queue') return req.ctx.render('approvals/queue-results', model);
    await req.ctx.render('approvals/queue', model, { title: 'Approvals queue' });
  });
}
