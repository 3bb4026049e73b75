// `/` sends each person where they work; the workspace home shows the widgets the user may
// see; the staff overview lists the client workspaces a staff member can open.
import { Router, type Request, type Response } from 'express';
import { AtriumError } from '../../errors.ts';
import { widgetKey } from '../../navigation.ts';
import Handlebars from 'handlebars';
import { z } from 'zod';
import { workspacesFor, workspacesQuery } from '../../identity/users.ts';
import type { HttpDeps } from '../deps.ts';
import { renderData } from '../render-data.ts';
import { cacheOf } from '../../cache.ts';

const PAGE_SIZE = 25;
const pageQuery = z.object({
  page: z.coerce.number().int().min(1).max(100000).catch(1),
  // A search by the client's name; bad input is simply no search (a GET filter, never an error page).
  q: z.string().trim().max(100).regex(/^[^\p{Cc}]*$/u).catch(''), // not free text stored anywhere: a search term, bound as a parameter
  // For owners and admins, who can open every workspace: only those they are on the team of.
  mine: z.enum(['1']).optional().catch(undefined),
});
/** `term` for a LIKE pattern, its wildcards taken literally. */
const likeTerm = (term: string) => `%${term.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export function homeRoutes(deps: HttpDeps): Router {
  const r = Router();

  r.get('/', async (req, res) => {
    const { user, session } = req.ctx;
    if (!user) return res.redirect(302, (await deps.db('users').first('id')) ? '/login' : '/setup');
    if (user.firmRole) return res.redirect(302, '/staff/');
    const mine = await workspacesFor(deps.db, user, { limit: 500 });
    if (mine.length === 0) return req.ctx.render('core/no-workspace', {}, { title: 'No workspace yet' });
    const last = session?.data.lastWorkspace;
    const target = mine.find((w) => w.slug === last) ?? mine[0]!;
    res.redirect(302, `/w/${target.slug}/`);
  });

  r.get('/w/:workspace/', async (req, res) => {
    const { session, workspace } = req.ctx;
    if (session && session.data.lastWorkspace !== workspace!.slug) {
      session.data = { ...session.data, lastWorkspace: workspace!.slug };
      await deps.sessions.setData(session.idHash, session.data);
    }
    const widgets = await renderWidgets(deps, req, 'workspace');
    await req.ctx.render('core/workspace-home', { widgets, hasWidgets: widgets.length > 0 }, { title: workspace!.name });
  });

  r.get('/w/:workspace/_widgets/:key', lateWidget(deps, 'workspace'));
  r.get('/staff/_widgets/:key', lateWidget(deps, 'staff'));

  r.get('/staff/', async (req, res) => {
    const user = req.ctx.user!;
    const { page, q, mine } = pageQuery.parse(req.query);
    const seesAll = user.firmRole === 'owner' || user.firmRole === 'admin';
    const clients = () => {
      const query = mine && seesAll ? deps.db('memberships as m').join('workspaces as w', 'w.id', 'm.workspace_id').where('m.user_id', user.id).andWhere('w.archived', false) : workspacesQuery(deps.db, user);
      if (q) query.whereRaw(`lower(w.name) like ? escape '\\'`, [likeTerm(q)]);
      return query;
    };
    const totalRow = (await clients().count({ n: '*' }).first()) as { n: number | string };
    const total = Number(totalRow.n);
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const rows = await clients()
      .select('w.id', 'w.slug', 'w.name', 'w.created_at')
      .select(deps.db('memberships as mm').count('*').whereRaw('mm.workspace_id = w.id').whereNot('mm.role', 'staff').as('clients'))
      .orderBy('w.name')
      .limit(PAGE_SIZE)
      .offset((Math.min(page, pages) - 1) * PAGE_SIZE);
    const widgets = await renderWidgets(deps, req, 'staff');
    const pageHref = (n: number) => `/staff/?${new URLSearchParams({ ...(q ? { q } : {}), ...(mine ? { mine } : {}), page: String(n) }).toString()}`;
    await req.ctx.render(
      'core/staff-home',
      {
        workspaces: rows.map((w: Record<string, unknown>) => ({ slug: w.slug, name: w.name, clients: Number(w.clients), createdAt: w.created_at })),
        total,
        page: Math.min(page, pages),
        pages,
        prev: page > 1 ? pageHref(page - 1) : null,
        next: page < pages ? pageHref(page + 1) : null,
        q,
        filtered: Boolean(q || mine),
        chips: seesAll
          ? [
              { label: 'All clients', href: `/staff/${q ? `?q=${encodeURIComponent(q)}` : ''}`, current: !mine },
              { label: 'On my team', href: `/staff/?mine=1${q ? `&q=${encodeURIComponent(q)}` : ''}`, current: Boolean(mine) },
            ]
          : [],
        mine: Boolean(mine),
        canCreate: req.ctx.ability.can('create', 'Workspace'),
        widgets,
        hasWidgets: widgets.length > 0,
      },
      { title: 'Staff overview' },
    );
  });

  return r;
}

/** A card that missed the page's budget: it asks for itself once the page is shown. */
const LATE = Symbol('late');

/**
 * Render the widgets of an area the request's ability allows, each in its own card. Their data
 * loads concurrently (on PostgreSQL the queries run side by side on the pool); the page waits at
 * most `views.widgetBudgetMs` for them. A card still loading then is sent as a placeholder that
 * fetches `<area root>/_widgets/<key>` after the page is shown, so one slow card never holds the
 * page. A card whose `load` or view throws shows a short error (the rest of the page renders).
 */
async function renderWidgets(deps: HttpDeps, req: Request, area: 'workspace' | 'staff') {
  const widgets = deps.navigation.widgetsFor(area, req.ctx.ability);
  if (widgets.length === 0) return [];
  const shared = await widgetShared(deps, req);
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => resolve(LATE), deps.config.views.widgetBudgetMs);
  });
  try {
    const htmls = await Promise.all(widgets.map((w) => Promise.race([renderWidget(deps, req, w, shared), budget])));
    return widgets.map((w, i) => {
      const html = htmls[i]!;
      const key = widgetKey(w);
      return { id: key, title: w.title, html: new Handlebars.SafeString(html === LATE ? deps.views.render('core/widget-late', { href: `${areaRoot(req, area)}/_widgets/${key}` }, shared.data) : html) };
    });
  } finally {
    clearTimeout(timer);
  }
}

const areaRoot = (req: Request, area: 'workspace' | 'staff') => (area === 'workspace' ? `/w/${req.ctx.workspace!.slug}` : '/staff');

async function widgetShared(deps: HttpDeps, req: Request) {
  const [csrfToken, brand, data] = await Promise.all([req.ctx.csrfToken(), deps.branding.get(), renderData(deps, req)]);
  return { csrfToken, brand, data };
}

/** One card's HTML; never rejects (a failure is logged and shown as the error card). */
async function renderWidget(deps: HttpDeps, req: Request, w: ReturnType<HttpDeps['navigation']['widgetsFor']>[number], shared: Awaited<ReturnType<typeof widgetShared>>): Promise<string> {
  try {
    const model = w.load ? await loadCard(deps, req, w) : {};
    return deps.views.render(w.view, { ...(model as object), workspace: req.ctx.workspace, user: req.ctx.user, csrfToken: shared.csrfToken, brand: shared.brand }, shared.data);
  } catch (err) {
    req.ctx.log.error({ err, widget: widgetKey(w) }, 'widget failed');
    return deps.views.render('core/widget-error', {}, {});
  }
}

/** The card's data, from the kernel's cache when the card allows it (core/cache.ts, `Widget.cache`). */
function loadCard(deps: HttpDeps, req: Request, w: ReturnType<HttpDeps['navigation']['widgetsFor']>[number]): Promise<unknown> {
  const { ctx } = req;
  const load = async () => w.load!({ ctx, db: deps.db, settings: w.settings, now: deps.clock.now() });
  const cache = cacheOf(deps.db);
  if (!cache || w.cache === false || !ctx.user) return load();
  // Everything the load may depend on: the card, the workspace, the person and their roles.
  const key = `card:${widgetKey(w)}:${ctx.workspace?.id ?? '-'}:${ctx.user.id}:${ctx.user.firmRole ?? '-'}:${ctx.workspaceRole ?? '-'}`;
  return cache.read(key, cache.cardTags(w.area === 'workspace' ? ctx.workspace!.id : null, ctx.user.id), load, { maxAgeMs: w.cache?.maxAgeMs ?? CARD_MAX_AGE_MS });
}

const CARD_MAX_AGE_MS = 30_000;

/** `GET <area root>/_widgets/:key`: one card's content, for a card that missed the page's budget. */
function lateWidget(deps: HttpDeps, area: 'workspace' | 'staff') {
  return async (req: Request, res: Response) => {
    // Only the cards this reader may see; any other key is the same 404 as an unknown one.
    const w = deps.navigation.widgetsFor(area, req.ctx.ability).find((x) => widgetKey(x) === req.params.key);
    if (!w) throw new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });
    // Opened by hand rather than by the page: the home it belongs to.
    if (!req.get('hx-request')) return res.redirect(302, `${areaRoot(req, area)}/`);
    const html = await renderWidget(deps, req, w, await widgetShared(deps, req));
    res.vary('HX-Request');
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(html);
  };
}
