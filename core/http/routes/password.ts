// Forgotten passwords (SECURITY.md controls 6, 13-15). `/password/forgot` answers the same page
// whether or not the email has an account, and whether or not the request was throttled (3 an
// hour per email, 20 an hour per IP); only a known, active account that is not throttled gets a
// mail. `/password/reset/:token` shows a form and never spends the token on a GET (mail scanners
// open links); the POST spends it, sets the password and ends every session, without signing in.
// Both reset pages send `Referrer-Policy: no-referrer` so the token never leaves in a Referer.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { transaction } from '../../db/index.ts';
import { AtriumError } from '../../errors.ts';
import { emailSchema, findUserByEmail } from '../../identity/users.ts';
import { passwordProblem } from '../../identity/passwords.ts';
import { accountKey, ipKey, LIMITS } from '../../identity/throttle.ts';
import { completeReset, issueReset, resetByToken } from '../../identity/resets.ts';
import { awaitingPassword } from '../../identity/staff.ts';
import { fieldErrors, formBody } from '../forms.ts';
import type { HttpDeps } from '../deps.ts';

const forgotForm = z.strictObject({ email: emailSchema });
export const newPasswordForm = z.strictObject({
  password: z.string().min(1, 'Choose a new password').max(4096, 'Use at most 1024 bytes'), // not free text: a password, used exactly as typed
  confirm: z.string().max(4096), // not free text: the password again
});

/** Password rules plus "the two fields match", as field errors. */
export function newPasswordErrors(body: Record<string, unknown>, context: string[]): Record<string, string> {
  const parsed = newPasswordForm.safeParse(body);
  const errors = parsed.success ? {} : fieldErrors(parsed.error);
  const pw = typeof body.password === 'string' ? body.password : '';
  const problem = passwordProblem(pw, context);
  if (problem) errors.password ??= problem;
  if (!errors.password && body.confirm !== pw) errors.confirm = 'The two passwords are not the same';
  return errors;
}

export function passwordRoutes(deps: HttpDeps): Router {
  const r = Router();

  r.get('/password/forgot', async (req) => {
    await req.ctx.render('core/password-forgot', { values: {} }, { title: 'Forgot your password?', layout: 'auth' });
  });

  r.post('/password/forgot', async (req) => {
    const body = formBody(req.body);
    const parsed = forgotForm.safeParse(body);
    if (!parsed.success) {
      return req.ctx.render('core/password-forgot', { errors: fieldErrors(parsed.error), values: { email: String(body.email ?? '') } }, { title: 'Forgot your password?', status: 400, layout: 'auth' });
    }
    const email = parsed.data.email;
    const keys = [`reset:email:${accountKey(email)}`, `reset:ip:${ipKey(req.ctx.ip)}`];
    const throttled = (await deps.throttle.retryAfter(keys)) > 0;
    if (!throttled) {
      await deps.throttle.hit(keys[0]!, LIMITS.requestEmail);
      await deps.throttle.hit(keys[1]!, LIMITS.requestIp);
      const user = await findUserByEmail(deps.db, email);
      if (user && !user.disabled) {
        await transaction(deps.db, (trx) => issueReset(deps, trx, user, { ...req.ctx.actor(), actorId: null }));
      }
    }
    // One reply for every case: known or not, throttled or not.
    await req.ctx.render('core/password-sent', { email }, { title: 'Check your email', layout: 'auth' });
  });

  // `welcome`: a colleague added by an admin choosing their first password (core/identity/staff.ts).
  const resetPage = async (req: Request, token: string, extra: { welcome?: boolean; [key: string]: unknown } = {}, status = 200) => {
    req.res!.setHeader('Referrer-Policy', 'no-referrer');
    await req.ctx.render('core/password-reset', { token, ...extra }, { title: extra.welcome ? 'Choose your password' : 'Choose a new password', status, layout: 'auth' });
  };
  const gone = async (req: Request) => {
    req.res!.setHeader('Referrer-Policy', 'no-referrer');
    await req.ctx.render('core/link-gone', { what: 'password reset link', retry: { href: '/password/forgot', label: 'Ask for a new link' } }, { title: 'Link expired', status: 410, layout: 'auth' });
  };

  r.get('/password/reset/:token', async (req) => {
    const token = String(req.params.token);
    const reset = await resetByToken(deps.db, token, deps.clock.now());
    if (!reset) return gone(req);
    await resetPage(req, token, { email: reset.email, welcome: await awaitingPassword(deps.db, reset.userId) });
  });

  r.post('/password/reset/:token', async (req, res) => {
    res.setHeader('Referrer-Policy', 'no-referrer');
    const token = String(req.params.token);
    const reset = await resetByToken(deps.db, token, deps.clock.now());
    if (!reset) return gone(req);
    const body = formBody(req.body);
    const errors = newPasswordErrors(body, [reset.name, reset.email.split('@')[0]!, (await deps.branding.get()).firmName]);
    const welcome = await awaitingPassword(deps.db, reset.userId);
    if (Object.keys(errors).length) return resetPage(req, token, { email: reset.email, errors, welcome }, 400);
    const hash = await deps.passwords.hash(String(body.password));
    try {
      await transaction(deps.db, (trx) => completeReset(deps, trx, token, hash, { ...req.ctx.actor(), actorId: reset.userId }));
    } catch (err) {
      if (err instanceof AtriumError && err.code === 'ATR_TOKEN_INVALID') return gone(req);
      throw err;
    }
    // Never signed in by a reset: the sign-in (and its second step) comes next.
    if (req.ctx.session) await deps.sessions.destroy(req.ctx.session.idHash);
    req.ctx.session = null;
    await req.ctx.flash('success', welcome ? 'Your password is set. Sign in with it.' : 'Your password was changed, and every session was signed out. Sign in with the new password.');
    res.redirect(303, '/login');
  });

  return r;
}
