// Sign in and sign out. A new session id is issued at login (the anonymous one is destroyed),
// and an unknown email costs the same time as a wrong password.
import { Router } from 'express';
import { z } from 'zod';
import { transaction } from '../../db/index.ts';
import { findUserByEmail } from '../../identity/users.ts';
import { clearSessionCookie, setSessionCookie } from '../cookies.ts';
import { fieldErrors, formBody, safeNext } from '../forms.ts';
import type { HttpDeps } from '../deps.ts';

const loginForm = z.strictObject({
  email: z.string().trim().min(1, 'Enter your email address').max(320),
  password: z.string().min(1, 'Enter your password').max(4096),
  next: z.string().max(2000).optional(),
});

export function authRoutes(deps: HttpDeps): Router {
  const r = Router();
  const secure = deps.config.baseUrl.startsWith('https://');

  r.get('/login', async (req, res) => {
    if (req.ctx.user) return res.redirect(302, safeNext(req.query.next));
    if (!(await deps.db('users').first('id'))) return res.redirect(302, '/setup');
    await req.ctx.render('core/login', { next: safeNext(req.query.next), values: {} }, { title: 'Sign in', layout: 'auth' });
  });

  r.post('/login', async (req, res) => {
    const parsed = loginForm.safeParse(formBody(req.body));
    if (!parsed.success) {
      const errors = fieldErrors(parsed.error);
      return req.ctx.render('core/login', { errors, values: { email: String(req.body?.email ?? '') }, next: safeNext(req.body?.next) }, { title: 'Sign in', status: 400, layout: 'auth' });
    }
    const { email, password } = parsed.data;
    const next = safeNext(parsed.data.next);
    const user = await findUserByEmail(deps.db, email);
    const ok = await deps.passwords.verify(user?.passwordHash, password);
    if (!user || !ok || user.disabled) {
      await transaction(deps.db, (trx) =>
        deps.audit.record(trx, { ...req.ctx.actor(), actorId: user?.id ?? null, action: 'core.session.login_failed', subjectType: 'User', subjectId: user?.id ?? null }),
      );
      return req.ctx.render(
        'core/login',
        { errors: { _form: 'That email and password do not match an active account.' }, values: { email }, next },
        { title: 'Sign in', status: 401, layout: 'auth' },
      );
    }
    // A new session id at login; the pre-login session (and its CSRF token) is gone.
    if (req.ctx.session) await deps.sessions.destroy(req.ctx.session.idHash);
    const now = deps.clock.now();
    const rehash = deps.passwords.needsRehash(user.passwordHash) ? await deps.passwords.hash(password) : undefined;
    const created = await deps.sessions.create({ userId: user.id, ip: req.ctx.ip, userAgent: req.ctx.userAgent, authAt: now });
    await transaction(deps.db, async (trx) => {
      await trx('users')
        .where({ id: user.id })
        .update({ last_login_at: now, ...(rehash ? { password_hash: rehash } : {}) });
      await trx('users').where({ id: user.id }).whereNull('first_login_at').update({ first_login_at: now });
      await deps.audit.record(trx, { ...req.ctx.actor(), actorId: user.id, action: 'core.session.login', subjectType: 'User', subjectId: user.id });
      deps.events.publish(trx, 'core.user.login', { userId: user.id });
    });
    setSessionCookie(res, secure, created.token, deps.sessions.absoluteMs);
    res.redirect(303, next);
  });

  r.post('/logout', async (req, res) => {
    if (req.ctx.session) {
      await deps.sessions.destroy(req.ctx.session.idHash);
      if (req.ctx.user) {
        await transaction(deps.db, (trx) =>
          deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.session.logout', subjectType: 'User', subjectId: req.ctx.user!.id }),
        );
      }
    }
    clearSessionCookie(res, secure);
    res.redirect(303, '/login');
  });

  return r;
}
