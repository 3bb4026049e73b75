// /staff/messaging: the firm's inbox across the workspaces a person serves (every workspace for
// owners and admins). Conversations where a client waits for the firm come first, the longest
// waiting at the top; then the rest by latest activity. Filters: waiting, assigned to me, done.
import type { Router } from 'express';
import type { Knex } from 'knex';
import { authorize } from '../../core/index.ts';
import type { MessagingDeps } from './service.ts';

const PAGE = 30;
const FILTERS = ['waiting', 'mine', 'open', 'done'] as const;
type Filter = (typeof FILTERS)[number];
const LABELS: Record<Filter, string> = { waiting: 'Awaiting our reply', mine: 'Assigned to me', open: 'All open', done: 'Done' };
/** What each tab says when it has nothing: what would appear there, and how. */
const EMPTY: Record<Filter, { title: string; text: string }> = {
  waiting: { title: 'No client is waiting for a reply', text: 'When a client writes, the conversation appears here until someone at the firm answers it.' },
  mine: { title: 'Nothing is assigned to you', text: 'A conversation appears here when someone assigns it to you on its page.' },
  open: { title: 'No open conversations', text: 'Conversations with your clients appear here until someone marks them as done.' },
  done: { title: 'Nothing marked as done yet', text: 'Mark a conversation as done on its page once it needs nothing more; a new message from the client opens it again.' },
};

export function staffRoutes(r: Router, deps: MessagingDeps): void {
  r.get('/', authorize('assign', 'Thread'), async (req) => {
    const me = req.ctx.user!;
    const filter: Filter = (FILTERS as readonly string[]).includes(String(req.query.show)) ? (req.query.show as Filter) : 'waiting';
    const page = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
    const all = req.ctx.ability.can('manage', 'all');
    const scoped = (q: Knex.QueryBuilder) => {
      q.join('workspaces as w', 'w.id', 't.workspace_id').where('w.archived', false);
      if (!all) q.whereIn('t.workspace_id', deps.db('memberships').where({ user_id: me.id, role: 'staff' }).select('workspace_id'));
    };
    const q = deps.db('messaging_threads as t').modify(scoped).leftJoin('users as a', 'a.id', 't.assignee_id');
    if (filter === 'waiting') q.whereNotNull('t.awaiting_firm_since').whereNull('t.done_at');
    if (filter === 'mine') q.where('t.assignee_id', me.id).whereNull('t.done_at');
    if (filter === 'open') q.whereNull('t.done_at');
    if (filter === 'done') q.whereNotNull('t.done_at');
    q.orderByRaw('case when t.awaiting_firm_since is null then 1 else 0 end, t.awaiting_firm_since asc, coalesce(t.last_at, t.created_at) desc, t.id desc');
    const rows = (await q
      .limit(PAGE)
      .offset((page - 1) * PAGE)
      .select('t.id', 't.kind', 't.title', 't.awaiting_firm_since', 't.last_at', 't.done_at', 'w.slug', 'w.name as workspace', 'a.name as assignee', deps.db.raw('count(*) over () as total'))) as Array<Record<string, unknown>>;
    const counts = (await deps.db('messaging_threads as t').modify(scoped).whereNotNull('t.awaiting_firm_since').whereNull('t.done_at').count({ n: '*' }).first()) as { n: number | string };
    const total = rows.length ? Number(rows[0]!.total) : 0;
    const pages = Math.max(1, Math.ceil(total / PAGE));
    const here = '/staff/messaging/';
    await req.ctx.render(
      'messaging/staff-inbox',
      {
        tabs: FILTERS.map((f) => ({ label: LABELS[f], href: `${here}?show=${f}`, current: f === filter, count: f === 'waiting' ? Number(counts.n) : undefined })),
        filterLabel: LABELS[filter],
        threads: rows.map((t) => ({
          title: t.kind === 'general' ? 'General' : String(t.title),
          href: `/w/${String(t.slug)}/messaging/t/${String(t.id)}`,
          workspace: String(t.workspace),
          waitingSince: t.awaiting_firm_since == null || t.done_at != null ? null : Number(t.awaiting_firm_since),
          last: t.last_at == null ? null : Number(t.last_at),
          assignee: t.assignee ? String(t.assignee) : null,
          done: t.done_at != null,
        })),
        empty: EMPTY[filter],
        page,
        pages,
        prev: page > 1 ? `${here}?show=${filter}&page=${page - 1}` : undefined,
        next: page < pages ? `${here}?show=${filter}&page=${page + 1}` : undefined,
      },
      { title: 'Messages' },
    );
  });
}
