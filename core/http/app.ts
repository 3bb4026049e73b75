// Express app assembly. The order of middleware is the order of a request (DESIGN.md):
// request id and log -> security headers -> static assets and probes (no session needed) ->
// body limits -> session, user, workspace and ability in one query -> CSRF on unsafe methods ->
// kernel and plugin routes behind their area guards -> themed 404 and error pages.
import { randomFillSync } from 'node:crypto';
import type { Logger } from 'pino';
import { createReadStream } from 'node:fs';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import helmet from 'helmet';
import Handlebars from 'handlebars';
import { AtriumError } from '../errors.ts';
import { newId, safeEqual } from '../ids.ts';
import { readSessionCookie, setSessionCookie, clearSessionCookie } from './cookies.ts';
import type { Area, RenderOptions, RequestContext } from './context.ts';
import type { HttpDeps } from './deps.ts';
import { assetRoutes } from './routes/assets.ts';
import { opsRoutes } from './routes/ops.ts';
import { authRoutes } from './routes/auth.ts';
import { setupRoutes } from './routes/setup.ts';
import { homeRoutes } from './routes/home.ts';
import { adminRoutes } from './routes/admin.ts';
import { styleGuideRoutes } from './routes/style-guide.ts';
import { adminConsoleRoutes } from './routes/admin-console.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { passwordRoutes } from './routes/password.ts';
import { accountRoutes } from './routes/account.ts';
import { invitationAcceptRoutes, invitationRoutes } from './routes/invitations.ts';
import { adminPeopleRoutes } from './routes/admin-people.ts';
import { adminMailRoutes } from './routes/admin-mail.ts';
import { adminStaffRoutes } from './routes/admin-staff.ts';
import { extraHeaders, mfaGate, redactPath } from './security.ts';
import { WEBHOOK_PREFIX, webhookPipeline } from './webhooks.ts';
import { auditRoutes } from './routes/audit.ts';
import { liveRoutes } from './routes/live.ts';
import { inboxRoutes, storedCount } from './routes/inbox.ts';
import { NotificationService } from '../notifications.ts';
import { workspacesFor } from '../identity/users.ts';
import { WorkspaceScope } from '../tenancy.ts';
import { cacheOf } from '../cache.ts';
import { renderData } from './render-data.ts';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SWITCHER_LIMIT = 50;

export interface PluginMount {
  id: string;
  workspace: Router;
  staff: Router;
  admin: Router;
  /** Routes addressed by a link token (`/l/<id>/:token`), resolved by the kernel first. */
  link?: Router;
  /** Raw-body routes (`/hooks/<id>/...`): no session, no CSRF, the body as a Buffer (webhooks.ts). */
  webhook?: Router;
}

export function createApp(deps: HttpDeps, pluginMounts: PluginMount[]): express.Express {
  const { config, logger } = deps;
  const secure = config.baseUrl.startsWith('https://');
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy.length ? config.trustProxy : false);
  app.set('query parser', 'simple');

  // 1. Request id, per-request logger (made on first use: most requests never log below `warn`),
  //    one log line per response (path without query string).
  const logsRequests = logger.isLevelEnabled('info');
  app.use((req, res, next) => {
    const requestId = newId();
    const started = process.hrtime.bigint();
    res.setHeader('X-Request-Id', requestId);
    res.locals.nonce = nonce(); // no '=' or '/' to escape in HTML
    let log: Logger | undefined;
    req.ctx = {
      requestId,
      nonce: res.locals.nonce,
      get log() {
        return (log ??= logger.child({ reqId: requestId }));
      },
    } as RequestContext;
    if (logsRequests) {
      res.on('finish', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        // The full path as requested: inside a mounted router req.path is relative (`/upload`, the
        // workspace lost). Never the query string: it may carry tokens.
        req.ctx.log.info({ method: req.method, path: redactPath(req.originalUrl.split('?')[0]!), status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
      });
    }
    next();
  });

  // 2. Security headers: nonce-based CSP, no inline script or style, no framing. Helmet computes
  //    them once, at boot, with a placeholder nonce; each response gets the same headers with its
  //    own nonce (the same bytes helmet would send, without building them per request).
  const headers = staticSecurityHeaders(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: [`'nonce-${NONCE_SLOT}'`, "'strict-dynamic'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          frameAncestors: ["'none'"],
          ...(secure ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      strictTransportSecurity: secure ? { maxAge: 31536000, includeSubDomains: true } : false,
      referrerPolicy: { policy: 'same-origin' },
      crossOriginEmbedderPolicy: false,
      xFrameOptions: { action: 'deny' },
      crossOriginOpenerPolicy: { policy: 'same-origin' },
      crossOriginResourcePolicy: { policy: 'same-origin' },
    }),
  );
  app.use((_req, res, next) => {
    for (const [name, value, withNonce] of headers) res.setHeader(name, withNonce ? value.replace(NONCE_SLOT, res.locals.nonce as string) : value);
    next();
  });
  app.use(extraHeaders);

  // 3. Assets and probes: no session lookup, no database unless the probe needs it.
  app.use(assetRoutes(deps));
  app.use(opsRoutes(deps));

  // 3b. Plugins' raw-body routes (payment webhooks): before the body parsers, the session and
  //     CSRF, since each proves itself with a signature over the exact bytes (webhooks.ts).
  for (const m of pluginMounts) if (m.webhook && hasRoutes(m.webhook)) app.use(`${WEBHOOK_PREFIX}/${m.id}`, webhookPipeline(deps, m.id, m.webhook));

  // 4. Bodies: small forms only; file uploads are streamed by their own routes.
  app.use(express.urlencoded({ extended: false, limit: '100kb', parameterLimit: 100 }));
  app.use(express.json({ limit: '100kb' }));

  // 5. Session, user, workspace, membership and ability.
  app.use(async (req, res, next) => {
    const ctx = req.ctx;
    ctx.ip = req.ip ?? req.socket.remoteAddress ?? '';
    ctx.userAgent = req.get('user-agent')?.slice(0, 400) ?? null;
    const wsMatch = /^\/w\/([a-z0-9-]{1,64})(\/|$)/.exec(req.path);
    const token = readSessionCookie(req, secure);
    ctx.session = token ? await deps.sessions.load(token, wsMatch?.[1]) : null;
    if (token && !ctx.session) clearSessionCookie(res, secure);
    ctx.user = ctx.session?.user ?? null;
    // A workspace the user may not open is never put in the context: not even its name may
    // reach the 404 page's layout.
    const firmWide = ctx.user?.firmRole === 'owner' || ctx.user?.firmRole === 'admin';
    const allowed = Boolean(ctx.user && ctx.session?.workspace && (ctx.session.membershipRole || firmWide));
    ctx.workspace = allowed ? ctx.session!.workspace : null;
    ctx.workspaceRole = allowed ? (ctx.session!.membershipRole ?? null) : null;
    ctx.scope = ctx.workspace ? new WorkspaceScope(deps.db, ctx.workspace.id) : null;
    ctx.area = areaOf(req.path);
    if (ctx.user) await deps.permissions.refreshCustomRoles(deps.db, deps.clock.now());
    ctx.ability = deps.permissions.abilityFor(ctx.user?.firmRole ?? null, ctx.area === 'workspace' ? ctx.workspaceRole : null, ctx.user ?? undefined);
    if (ctx.user) res.setHeader('Cache-Control', 'no-store');
    ctx.csrfToken = async () => {
      if (!ctx.session) {
        const created = await deps.sessions.create({ userId: null, ip: ctx.ip, userAgent: ctx.userAgent });
        setSessionCookie(res, secure, created.token, deps.sessions.absoluteMs);
        ctx.session = {
          idHash: created.idHash,
          userId: null,
          csrfToken: created.csrfToken,
          createdAt: deps.clock.now(),
          lastSeenAt: deps.clock.now(),
          expiresAt: created.expiresAt,
          authAt: null,
          data: {},
          user: null,
          workspace: null,
          membershipRole: null,
        };
      }
      return ctx.session.csrfToken;
    };
    ctx.actor = () => ({ actorId: ctx.user?.id ?? null, ip: ctx.ip, userAgent: ctx.userAgent });
    ctx.flash = async (kind, text) => {
      if (!ctx.session) await ctx.csrfToken();
      const data = { ...ctx.session!.data, flash: [...((ctx.session!.data.flash as unknown[]) ?? []), { kind, text }] };
      ctx.session!.data = data;
      await deps.sessions.setData(ctx.session!.idHash, data);
    };
    ctx.render = (view, model = {}, opts = {}) => render(deps, req, res, view, model, opts);
    ctx.subjectActions = (subject, row) => (ctx.workspace ? deps.navigation.actionsFor(subject, ctx.ability, ctx.workspace.slug, row) : []);
    ctx.subjectThread = (type, id) => (ctx.workspace ? deps.threads.panel(ctx.ability, ctx.workspace.slug, type, id) : undefined);
    next();
  });

  // 5b. A session waiting for its second step reaches only /login/mfa; dynamic responses are no-store.
  app.use(mfaGate());

  // 6. CSRF: a session-bound synchronizer token on every unsafe method (form field `_csrf` or
  //    header `X-CSRF-Token` for htmx), plus Fetch-Metadata and Origin checks.
  app.use((req, res, next) => {
    if (!UNSAFE.has(req.method)) return next();
    const site = req.get('sec-fetch-site');
    if (site && site !== 'same-origin' && site !== 'none') return next(new AtriumError('ATR_CSRF', 'cross-site request', { status: 403 }));
    const origin = req.get('origin');
    // A page served with `Referrer-Policy: no-referrer` (reset and invitation links) makes the
    // browser send `Origin: null` on its own form posts; Fetch Metadata still says same-origin.
    const opaqueButSameOrigin = origin === 'null' && site === 'same-origin';
    if (origin && !opaqueButSameOrigin && origin !== new URL(config.baseUrl).origin && origin !== `${req.protocol}://${req.get('host')}`) {
      return next(new AtriumError('ATR_CSRF', 'foreign origin', { status: 403 }));
    }
    const sent = req.get('x-csrf-token') ?? (typeof req.body?._csrf === 'string' ? req.body._csrf : undefined);
    const expected = req.ctx.session?.csrfToken;
    if (!sent || !expected || !safeEqual(sent, expected)) return next(new AtriumError('ATR_CSRF', undefined, { status: 403 }));
    next();
  });

  // 7. Routes. Kernel pages first, then each area's guard, then plugin routers under it.
  app.use(setupRoutes(deps));
  app.use(authRoutes(deps));
  app.use(passwordRoutes(deps));
  app.use(invitationAcceptRoutes(deps));
  app.use(accountRoutes(deps));

  app.use('/w/:workspace', requireUser, (req, _res, next) => {
    // Unknown, archived, or not a member: the same 404, so nothing is learned.
    if (!req.ctx.workspace) return next(new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 }));
    next();
  });
  app.use(['/staff', '/admin'], requireUser, (req, _res, next) => {
    const need = req.ctx.area === 'admin' ? 'AdminArea' : 'StaffArea';
    if (!req.ctx.ability.can('read', need)) return next(new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 }));
    next();
  });
  app.use(homeRoutes(deps));
  app.use(adminRoutes(deps));
  app.use(styleGuideRoutes(deps));
  app.use(adminConsoleRoutes(deps));
  app.use(notificationRoutes(deps));
  app.use(adminStaffRoutes(deps)); // before admin-people: /admin/people/new is not a person's id
  app.use(adminPeopleRoutes(deps));
  app.use(adminMailRoutes(deps));
  app.use(invitationRoutes(deps));
  app.use(auditRoutes(deps));
  app.use(liveRoutes(deps));
  app.use(inboxRoutes(deps));
  for (const m of pluginMounts) {
    app.use(`/w/:workspace/${m.id}`, m.workspace);
    app.use(`/staff/${m.id}`, m.staff);
    app.use(`/admin/${m.id}`, m.admin);
    if (m.link) app.use(`/l/${m.id}/:token`, deps.links.middleware(m.id), m.link);
  }

  // 8. Nothing matched: a themed 404. Errors: a themed page with the request id, never a stack.
  app.use((_req, _res, next) => next(new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 })));
  app.use(async (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const known = err instanceof AtriumError ? err : undefined;
    const bodyError = (err as { type?: string; status?: number }).type && (err as { status?: number }).status;
    const status = known?.status ?? (typeof bodyError === 'number' ? bodyError : 500);
    const log = req.ctx?.log ?? logger;
    if (status >= 500) log.error({ err }, 'request failed');
    else log.info({ code: known?.code, status }, 'request refused');
    if (res.headersSent) return res.end();
    const message =
      status === 404
        ? 'We could not find that page. It may have moved, or you may not have access to it.'
        : status === 403
          ? known?.code === 'ATR_CSRF'
            ? 'This form has expired or did not come from this site. Go back, reload the page and try again.'
            : 'You do not have permission to do that.'
          : status === 413
            ? 'That was too large to accept.'
            : status < 500
              ? 'The request could not be understood.'
              : 'Something went wrong on our side. The problem has been logged.';
    try {
      if (!req.ctx?.render) throw new Error('no context');
      await req.ctx.render('core/error', { status, message, requestId: req.ctx.requestId }, { status, title: status === 404 ? 'Page not found' : 'Error' });
    } catch (renderErr) {
      log.error({ err: renderErr }, 'error page failed to render');
      res.status(status).type('text/plain').send(`${status} ${message}`);
    }
  });
  return app;
}

/** Stands for the nonce in the headers computed at boot (never a valid base64url nonce). */
const NONCE_SLOT = '__NONCE__';

/** Run a header-setting middleware once and keep what it set: [name, value, holds the nonce]. */
function staticSecurityHeaders(mw: (req: Request, res: Response, next: (err?: unknown) => void) => void): Array<[string, string, boolean]> {
  const out: Array<[string, string, boolean]> = [];
  const res = {
    locals: {},
    setHeader: (name: string, value: string | string[]) => out.push([name, String(value), String(value).includes(NONCE_SLOT)]),
    removeHeader: () => {},
    getHeader: () => undefined,
  };
  let failed: unknown;
  mw({} as Request, res as unknown as Response, (err) => (failed = err));
  if (failed) throw failed;
  return out;
}

/**
 * A CSP nonce: 128 bits from the CSPRNG, base64url. Drawn from a pool refilled 4 KiB at a time
 * (one system call per 256 responses instead of one each).
 */
const noncePool = Buffer.alloc(4096);
let noncePos = noncePool.length;
function nonce(): string {
  if (noncePos + 16 > noncePool.length) {
    randomFillSync(noncePool);
    noncePos = 0;
  }
  const out = noncePool.toString('base64url', noncePos, noncePos + 16);
  noncePool.fill(0, noncePos, noncePos + 16); // a nonce is used once; nothing keeps it
  noncePos += 16;
  return out;
}

/** Whether a plugin added anything to a router (an unused one is not mounted at all). */
function hasRoutes(router: Router): boolean {
  return ((router as unknown as { stack?: unknown[] }).stack?.length ?? 0) > 0;
}

function areaOf(path: string): Area {
  if (path.startsWith('/w/')) return 'workspace';
  if (path === '/staff' || path.startsWith('/staff/')) return 'staff';
  if (path === '/admin' || path.startsWith('/admin/')) return 'admin';
  return 'public';
}

function requireUser(req: Request, res: Response, next: NextFunction): void {
  if (req.ctx.user) return next();
  if (req.method === 'GET' || req.method === 'HEAD') {
    const nextPath = req.originalUrl.startsWith('/') && !req.originalUrl.startsWith('//') ? req.originalUrl : '/';
    if (req.get('hx-request')) {
      res.setHeader('HX-Redirect', `/login?next=${encodeURIComponent(nextPath)}`);
      res.status(401).end();
      return;
    }
    res.redirect(302, `/login?next=${encodeURIComponent(nextPath)}`);
    return;
  }
  next(new AtriumError('ATR_FORBIDDEN', 'sign in first', { status: 401 }));
}

/** Render `view` inside the theme layout, or alone for an htmx request (`Vary: HX-Request`). */
export async function render(deps: HttpDeps, req: Request, res: Response, view: string, model: object, opts: RenderOptions): Promise<void> {
  const ctx = req.ctx;
  res.vary('HX-Request');
  // Pages carry a CSRF token and often private data: never cached by a browser or proxy.
  res.setHeader('Cache-Control', 'no-store');
  const data = await renderData(deps, req);
  const csrfToken = await ctx.csrfToken();
  const brand = await deps.branding.get();
  const shared = { csrfToken, user: ctx.user, workspace: ctx.workspace, brand };
  const body = deps.views.render(view, { ...shared, ...model }, data);
  res.status(opts.status ?? 200);
  // htmx swaps fragments into a page that already has a layout; history restores are full loads.
  if (req.get('hx-request') && !req.get('hx-history-restore-request')) {
    res.type('html').send(body);
    return;
  }
  let flash: unknown[] = [];
  if (ctx.session?.data.flash) {
    flash = ctx.session.data.flash as unknown[];
    const { flash: _consumed, ...rest } = ctx.session.data;
    ctx.session.data = rest;
    await deps.sessions.setData(ctx.session.idHash, rest);
  }
  // The switcher shows up to 50; staff with more get a link to the full, paginated overview.
  // A client whose only workspace is this one: the switcher would read just it (one query fewer).
  const onlyThisOne = Boolean(ctx.user && !ctx.user.firmRole && ctx.workspace && ctx.workspaceRole && ctx.session?.workspaceCount === 1);
  const workspaces = !ctx.user
    ? []
    : onlyThisOne
      ? [{ ...ctx.workspace!, archived: false }]
      : await switcherList(deps, ctx.user);
  const moreWorkspaces = workspaces.length > SWITCHER_LIMIT;
  if (moreWorkspaces) workspaces.length = SWITCHER_LIMIT;
  const canStaff = ctx.ability.can('read', 'StaffArea');
  // Account pages belong to no workspace: give them the way back (core/back-link partial), to the
  // staff overview for the firm, else to the client's last (or only) workspace.
  let homeLink: { href: string; label: string } | undefined;
  if (ctx.user && !ctx.workspace && /^\/account(\/|$|\?)/.test(req.originalUrl)) {
    const last = workspaces.find((w) => w.slug === ctx.session?.data.lastWorkspace) ?? workspaces[0];
    if (canStaff) homeLink = { href: '/staff/', label: 'the staff overview' };
    else if (last) homeLink = { href: `/w/${last.slug}/`, label: last.name };
  }
  const layoutModel = {
    ...shared,
    body: new Handlebars.SafeString(body) as unknown as string,
    title: opts.title,
    nonce: ctx.nonce,
    area: ctx.area,
    // Inside a plugin's router req.path is relative to its mount point; the nav needs the full path.
    nav: deps.navigation.links(ctx.area, ctx.ability, req.baseUrl + req.path, ctx.workspace?.slug),
    canStaff,
    canAdmin: ctx.ability.can('read', 'AdminArea'),
    homeLink,
    workspaces: workspaces.map((w) => ({ slug: w.slug, name: w.name, current: w.slug === ctx.workspace?.slug })),
    hasSwitcher: workspaces.length > 1,
    moreWorkspaces: moreWorkspaces && ctx.ability.can('read', 'StaffArea'),
    flash,
    assetVersion: deps.assetVersion,
    brandVersion: brand.version,
    // Read with the session at the start of the request: one round trip fewer per page.
    noticeCount: ctx.user ? (ctx.session?.noticeCount ?? (await NotificationService.count(deps.db, ctx.user.id))) : 0,
    // "Waiting on you": the count stored per person, read with the session (core/waiting.ts).
    hasWaiting: Boolean(ctx.user) && deps.waiting.enabled,
    waitingCount: ctx.user && deps.waiting.enabled ? await deps.waiting.headerCount(ctx, ctx.user, storedCount(req)) : 0,
  };
  res.type('html').send(deps.views.renderLayout(opts.layout ?? 'main', layoutModel, data));
}

/**
 * The header's workspace list, kept in the kernel's cache until the person, a membership or a
 * workspace is written (core/cache.ts). A copy: the caller trims it.
 */
async function switcherList(deps: HttpDeps, user: NonNullable<RequestContext['user']>) {
  const load = () => workspacesFor(deps.db, user, { limit: SWITCHER_LIMIT + 1 });
  const cache = cacheOf(deps.db);
  const list = cache ? await cache.read(`switcher:${user.id}:${user.firmRole ?? ''}`, [`user:${user.id}`, 't:users', 't:memberships', 't:workspaces'], load) : await load();
  return [...list];
}

export function streamFile(res: Response, file: string, type: string, maxAgeSeconds: number): void {
  res.type(type);
  res.setHeader('Cache-Control', `public, max-age=${maxAgeSeconds}`);
  createReadStream(file).on('error', () => res.destroy()).pipe(res);
}
