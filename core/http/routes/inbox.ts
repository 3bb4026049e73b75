// "Waiting on you" in the portal (core/waiting.ts): the `/inbox` page across all the person's
// workspaces, overdue first, then by due date, a page at a time; and the home cards (the workspace
// home: what waits in this workspace; the staff overview: everything). Each reads one query per
// provider; the header's count comes with the session (see render() in app.ts).
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { Widget, WidgetContext } from '../../plugins/define.ts';
import type { WaitingItem, WaitingRegistry } from '../../waiting.ts';
import type { HttpDeps } from '../deps.ts';

export const INBOX_PAGE_SIZE = 20;
/** Each provider reads at most offset + page size rows: deep pages are capped. */
const MAX_PAGE = 50;
const CARD_ITEMS = 5;
const pageQuery = z.object({ page: z.coerce.number().int().min(1).max(MAX_PAGE).catch(1) });

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** An item as a view shows it, field by field. */
export function itemModel(i: WaitingItem, opts: { showWorkspace: boolean }) {
  return {
    title: i.title,
    kind: i.kind,
    verb: i.verb,
    /** The link's words: "Sign: Engagement letter", or the title alone when it already starts with the verb ("Approve the brand guidelines"). */
    label: new RegExp(`^${i.verb.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'i').test(i.title) ? i.title : `${i.verb}: ${i.title}`,
    href: i.href,
    workspace: opts.showWorkspace ? i.workspace.name : null,
    dueDay: i.dueAt !== null ? day(i.dueAt) : null,
    overdue: i.overdue,
    since: i.since,
  };
}

/** The stored header count read with the session, for WaitingRegistry.headerCount. */
export function storedCount(req: Pick<Request, 'ctx'>) {
  const s = req.ctx.session;
  return s ? { count: s.waitingCount ?? null, at: s.waitingAt ?? null } : undefined;
}

export function inboxRoutes(deps: HttpDeps): Router {
  const r = Router();
  r.get('/inbox', async (req, res) => {
    const user = req.ctx.user;
    if (!user) return res.redirect(302, '/login?next=%2Finbox');
    if (!deps.waiting.enabled) return req.ctx.render('core/inbox', { enabled: false, items: [], total: 0 }, { title: 'Waiting on you' });
    const person = await deps.waiting.personFor(deps.db, user);
    let { page } = pageQuery.parse(req.query);
    let list = await deps.waiting.list(deps.db, person, { limit: INBOX_PAGE_SIZE, offset: (page - 1) * INBOX_PAGE_SIZE });
    const pages = Math.max(1, Math.min(MAX_PAGE, Math.ceil(list.total / INBOX_PAGE_SIZE)));
    if (page > pages) {
      // Past the end (items were done meanwhile): the last page instead.
      page = pages;
      list = await deps.waiting.list(deps.db, person, { limit: INBOX_PAGE_SIZE, offset: (page - 1) * INBOX_PAGE_SIZE });
    }
    // The exact count was just read: a stored header count that disagrees is put right.
    const shown = await deps.waiting.headerCount(req.ctx, user, storedCount(req));
    if (shown !== list.total) deps.waiting.remember(req.ctx, (await deps.waiting.refresh([user.id])).get(user.id) ?? list.total);
    const many = person.workspaces.length > 1;
    await req.ctx.render(
      'core/inbox',
      {
        enabled: true,
        lede: list.total ? `${list.total} ${list.total === 1 ? 'thing is' : 'things are'} waiting for you${list.overdue ? `, ${list.overdue} overdue` : ''}. The most urgent come first.` : null,
        caption: `Waiting on you, the most urgent first${pages > 1 ? `, page ${page} of ${pages}` : ''}`,
        items: list.items.map((i) => itemModel(i, { showWorkspace: many })),
        total: list.total,
        overdue: list.overdue,
        showWorkspace: many,
        page,
        pages,
        prev: page > 1 ? `/inbox?page=${page - 1}` : null,
        next: page < pages ? `/inbox?page=${page + 1}` : null,
        // Where to go when nothing is waiting: the person's own workspace(s).
        workspaces: person.workspaces.slice(0, 10).map((w) => ({ name: w.name, href: `/w/${w.slug}/` })),
      },
      { title: 'Waiting on you' },
    );
  });
  return r;
}

/** The kernel's home cards, added at boot when at least one plugin contributes items. */
export function waitingWidgets(waiting: WaitingRegistry): Widget[] {
  return [
    {
      id: 'waiting',
      area: 'workspace',
      title: 'Waiting on you',
      view: 'core/waiting-card',
      order: 1,
      async load({ ctx, db, now }: WidgetContext) {
        const user = ctx.user!;
        const ws = ctx.workspace!;
        const here = await waiting.list(db, waiting.personOver(user, [{ id: ws.id, slug: ws.slug, name: ws.name, role: ctx.workspaceRole }]), { limit: CARD_ITEMS, now });
        // The person's count across every workspace is the header's (read with the session).
        const all = await waiting.headerCount(ctx, user, storedCount({ ctx }));
        return { items: here.items.map((i) => itemModel(i, { showWorkspace: false })), total: here.total, more: Math.max(0, here.total - here.items.length), elsewhere: Math.max(0, all - here.total), inboxHref: '/inbox' };
      },
    },
    {
      id: 'waiting',
      area: 'staff',
      title: 'Waiting on you',
      view: 'core/waiting-card',
      order: 1,
      async load({ ctx, db, now }: WidgetContext) {
        const person = await waiting.personFor(db, ctx.user!);
        const all = await waiting.list(db, person, { limit: CARD_ITEMS, now });
        return { items: all.items.map((i) => itemModel(i, { showWorkspace: person.workspaces.length > 1 })), total: all.total, more: Math.max(0, all.total - all.items.length), elsewhere: 0, inboxHref: '/inbox' };
      },
    },
  ];
}
