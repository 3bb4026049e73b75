// Identity pieces of the request pipeline (SECURITY.md controls 2, 5, 11, 17, 50):
// - headers helmet does not set (Permissions-Policy) and `no-store` on every dynamic response;
// - the MFA gate: a half-signed-in session reaches only the challenge (or forced enrolment);
// - starting a signed-in session after a password (or invitation): a new id, MFA pending when due;
// - re-authentication within 15 minutes for sensitive changes;
// - 429 answers with Retry-After; log paths with one-time tokens removed.
import type { NextFunction, Request, Response } from 'express';
import { transaction, type Trx } from '../db/index.ts';
import { AtriumError } from '../errors.ts';
import { retryAfterSeconds } from '../identity/throttle.ts';
import { setSessionCookie } from './cookies.ts';
import { safeNext } from './forms.ts';
import type { HttpDeps } from './deps.ts';
import type { RenderOptions } from './context.ts';

/** Sensitive changes need a password or TOTP proof this recent (SECURITY.md section 3). */
export const REAUTH_WINDOW_MS = 15 * 60_000;

const PERMISSIONS_POLICY = [
  'accelerometer=()',
  'camera=()',
  'display-capture=()',
  'geolocation=()',
  'gyroscope=()',
  'magnetometer=()',
  'microphone=()',
  'payment=()',
  'usb=()',
].join(', ');

/** Headers helmet 8 does not send. */
export function extraHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Permissions-Policy', PERMISSIONS_POLICY);
  next();
}

/** Paths that carry a one-time token, with the token replaced: for logs. */
export function redactPath(path: string): string {
  return path
    .replace(/^\/(password\/reset|invite|account\/email\/confirm)\/[^/]+/, '/$1/[token]')
    .replace(/^\/l\/([^/]+)\/[^/]+/, '/l/$1/[token]');
}

/** Paths a half-signed-in (MFA pending) session may use. */
const PENDING_ALLOWED = new Set(['/login/mfa', '/login/mfa/setup', '/logout']);

/**
 * After the session middleware: every dynamic response is `no-store` (pages, fragments and
 * redirects alike), and a session waiting for its second step reaches only the challenge.
 * Everything else answers 302 /login/mfa (GET) or 401.
 */
export function mfaGate() {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('Cache-Control', 'no-store');
    const session = req.ctx.session;
    if (!session?.mfaPending) return next();
    if (PENDING_ALLOWED.has(req.path)) return next();
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (req.get('hx-request')) {
        res.setHeader('HX-Redirect', '/login/mfa');
        res.status(401).end();
        return;
      }
      res.redirect(302, '/login/mfa');
      return;
    }
    next(new AtriumError('ATR_MFA_PENDING', undefined, { status: 401 }));
  };
}

/** For routers outside the area guards: signed in, or off to /login (GET) / 401. */
export function requireSignedIn(req: Request, res: Response, next: NextFunction): void {
  if (req.ctx.user) return next();
  if (req.method === 'GET' || req.method === 'HEAD') {
    const nextPath = req.originalUrl.startsWith('/') && !req.originalUrl.startsWith('//') ? req.originalUrl : '/';
    res.redirect(302, `/login?next=${encodeURIComponent(nextPath)}`);
    return;
  }
  next(new AtriumError('ATR_FORBIDDEN', 'sign in first', { status: 401 }));
}

export function recentlyAuthenticated(deps: HttpDeps, req: Request): boolean {
  const at = req.ctx.session?.authAt;
  return at != null && deps.clock.now() - at <= REAUTH_WINDOW_MS;
}

/** Sensitive pages: a GET goes to /account/reauth first; any other method is refused with 403. */
export function requireRecentAuth(deps: HttpDeps) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (recentlyAuthenticated(deps, req)) return next();
    if (req.method === 'GET' || req.method === 'HEAD') {
      res.redirect(302, `/account/reauth?next=${encodeURIComponent(safeNext(req.originalUrl))}`);
      return;
    }
    next(new AtriumError('ATR_REAUTH_REQUIRED', undefined, { status: 403 }));
  };
}

/** Answer 429 with Retry-After and a page saying when to come back. */
export async function tooMany(req: Request, res: Response, ms: number, view: string, model: object, opts: RenderOptions): Promise<void> {
  res.setHeader('Retry-After', String(retryAfterSeconds(ms)));
  await req.ctx.render(view, model, { ...opts, status: 429 });
}

/**
 * The password (or an invitation) has been proven: replace the current session with a new id.
 * If the person has MFA, or must have it, the new session is pending and goes to /login/mfa;
 * otherwise they are signed in. Returns where to send them.
 */
export async function beginSession(deps: HttpDeps, req: Request, res: Response, user: { id: string; firmRole: string | null }, next: string, opts: { via: string }): Promise<string> {
  const secure = deps.config.baseUrl.startsWith('https://');
  // Deciding needs the database: if it cannot be read, this throws and nobody is signed in.
  const pending = (await deps.mfa.isEnabled(user.id)) || (await deps.mfa.isRequired(user));
  if (req.ctx.session) await deps.sessions.destroy(req.ctx.session.idHash);
  const now = deps.clock.now();
  const created = await deps.sessions.create({ userId: user.id, ip: req.ctx.ip, userAgent: req.ctx.userAgent, authAt: now, mfaPending: pending, data: pending ? { next } : {} });
  await transaction(deps.db, async (trx) => {
    // A sign-in voids outstanding reset links (SECURITY.md control 13).
    await trx('password_resets').where({ user_id: user.id }).whereNull('used_at').update({ used_at: now });
    if (pending) {
      await deps.audit.record(trx, { ...req.ctx.actor(), actorId: user.id, action: 'core.session.mfa_challenge', subjectType: 'User', subjectId: user.id, detail: { via: opts.via } });
    } else {
      await completeLogin(deps, trx, req, user.id, { via: opts.via });
    }
  });
  setSessionCookie(res, secure, created.token, deps.sessions.absoluteMs);
  return pending ? '/login/mfa' : next;
}

/** The bookkeeping of a completed sign-in, in `trx`. */
export async function completeLogin(deps: HttpDeps, trx: Trx, req: Request, userId: string, detail: Record<string, unknown>): Promise<void> {
  const now = deps.clock.now();
  await trx('users').where({ id: userId }).update({ last_login_at: now });
  await trx('users').where({ id: userId }).whereNull('first_login_at').update({ first_login_at: now });
  await deps.audit.record(trx, { ...req.ctx.actor(), actorId: userId, action: 'core.session.login', subjectType: 'User', subjectId: userId, detail });
  deps.events.publish(trx, 'core.user.login', { userId });
}

/** Replace the session with a new id (MFA completed, or re-authenticated), keeping its data. */
export async function rotateSession(deps: HttpDeps, req: Request, res: Response, userId: string, data: Record<string, unknown>): Promise<void> {
  const secure = deps.config.baseUrl.startsWith('https://');
  if (req.ctx.session) await deps.sessions.destroy(req.ctx.session.idHash);
  const created = await deps.sessions.create({ userId, ip: req.ctx.ip, userAgent: req.ctx.userAgent, authAt: deps.clock.now(), data });
  setSessionCookie(res, secure, created.token, deps.sessions.absoluteMs);
  // The rest of this request (a page rendered in place) uses the new session and its CSRF token.
  if (req.ctx.session) {
    req.ctx.session = { ...req.ctx.session, idHash: created.idHash, csrfToken: created.csrfToken, authAt: deps.clock.now(), mfaPending: false, data };
  }
}
