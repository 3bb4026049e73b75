// `/account`: my profile, my active sessions ("sign out other sessions"), password, email and
// two-step sign-in. Changing the password, the email or MFA needs a password or TOTP proof from
// the last 15 minutes (`/account/reauth`, which issues a new session id); a POST without one is
// refused with 403 (SECURITY.md controls 2, 4, 5).
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { transaction } from '../../db/index.ts';
import { AtriumError } from '../../errors.ts';
import { emailSchema } from '../../identity/users.ts';
import { setPassword, notifyUser } from '../../identity/people.ts';
import { confirmEmailChange, emailChangeByToken, requestEmailChange } from '../../identity/email-change.ts';
import { humanDuration } from '../../identity/throttle.ts';
import { fieldErrors, formBody, safeNext } from '../forms.ts';
import { recentlyAuthenticated, requireRecentAuth, requireSignedIn, rotateSession, tooMany } from '../security.ts';
import { checkSecondFactor, confirmEnrolment } from './auth.ts';
import { newPasswordErrors } from './password.ts';
import type { HttpDeps } from '../deps.ts';
import { isTimeZone, timeZones } from '../../time.ts';

const reauthForm = z.strictObject({
  password: z.string().max(4096).optional(), // not free text: a password, used exactly as typed
  code: z.string().trim().max(40).optional(), // not free text: a one-time code, compared
  next: z.string().max(2000).optional(), // not free text: a local path, checked by safeNext
});
const codeForm = z.strictObject({ code: z.string().trim().min(1, 'Enter the code from your authenticator app').max(40, 'That is not a code') }); // not free text: a one-time code, compared
const emailForm = z.strictObject({ email: emailSchema });
const timeZoneForm = z.strictObject({ timeZone: z.union([z.literal(''), z.string().refine(isTimeZone, 'Choose a time zone from the list')]) }); // not free text: a time zone name, one of Intl's list (isTimeZone)

/** A short, readable description of a browser from its User-Agent. */
function describeAgent(ua: string | null): string {
  if (!ua) return 'Unknown browser';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : /curl|node|undici/i.test(ua) ? 'Script' : 'Browser';
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

export function accountRoutes(deps: HttpDeps): Router {
  const r = Router();
  const fresh = requireRecentAuth(deps);

  // The email confirmation link works without being signed in (it may open in another browser).
  const confirmPage = async (req: Request, token: string, status = 200) => {
    req.res!.setHeader('Referrer-Policy', 'no-referrer');
    const change = await emailChangeByToken(deps.db, token, deps.clock.now());
    if (!change) return req.ctx.render('core/link-gone', { what: 'confirmation link' }, { title: 'Link expired', status: 410, layout: 'auth' });
    await req.ctx.render('core/email-confirm', { token, newEmail: change.newEmail }, { title: 'Confirm your new email', status, layout: 'auth' });
  };
  r.get('/account/email/confirm/:token', async (req) => confirmPage(req, String(req.params.token)));
  r.post('/account/email/confirm/:token', async (req, res) => {
    res.setHeader('Referrer-Policy', 'no-referrer');
    try {
      await transaction(deps.db, (trx) => confirmEmailChange(deps, trx, String(req.params.token), req.ctx.actor()));
    } catch (err) {
      if (err instanceof AtriumError && err.code === 'ATR_TOKEN_INVALID') return req.ctx.render('core/link-gone', { what: 'confirmation link' }, { title: 'Link expired', status: 410, layout: 'auth' });
      throw err;
    }
    await req.ctx.flash('success', 'Your email address was changed. Use it the next time you sign in.');
    res.redirect(303, req.ctx.user ? '/account' : '/login');
  });

  r.use('/account', requireSignedIn);

  const accountPage = async (req: Request, extra: object = {}, status = 200) => {
    const user = req.ctx.user!;
    const sessions = await deps.sessions.listForUser(user.id);
    const mfaOn = await deps.mfa.isEnabled(user.id);
    await req.ctx.render(
      'core/account',
      {
        email: user.email,
        name: user.name,
        sessions: sessions.map((s) => ({
          current: s.idHash === req.ctx.session!.idHash,
          agent: describeAgent(s.userAgent),
          ip: s.ip ?? 'unknown',
          createdAt: s.createdAt,
          lastSeenAt: s.lastSeenAt,
        })),
        others: sessions.filter((s) => s.idHash !== req.ctx.session!.idHash).length,
        mfaOn,
        mfaRequired: await deps.mfa.isRequired(user),
        codesLeft: mfaOn ? await deps.mfa.remainingCodes(user.id) : 0,
        recent: recentlyAuthenticated(deps, req),
        timeZone: user.timeZone ?? '',
        firmTimeZone: (await deps.branding.get()).timeZone,
        timeZones: timeZones(),
        ...extra,
      },
      { title: 'Your account', status },
    );
  };

  r.get('/account', async (req) => accountPage(req));

  // The time zone every page shows this person's times in ('' = the firm's). Not a security
  // setting, so no re-authentication; audited like every change.
  r.post('/account/time-zone', async (req, res) => {
    const user = req.ctx.user!;
    const parsed = timeZoneForm.safeParse(formBody(req.body));
    if (!parsed.success) return accountPage(req, { errors: fieldErrors(parsed.error) }, 400);
    const zone = parsed.data.timeZone || null;
    await transaction(deps.db, async (trx) => {
      await trx('users').where({ id: user.id }).update({ time_zone: zone });
      await deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.user.time_zone', subjectType: 'User', subjectId: user.id, detail: { timeZone: zone } });
    });
    await req.ctx.flash('success', zone ? `Times are now shown in ${zone}.` : 'Times are now shown in the firm’s time zone.');
    res.redirect(303, '/account');
  });

  r.post('/account/sessions/others', async (req, res) => {
    const user = req.ctx.user!;
    const ended = await transaction(deps.db, async (trx) => {
      const n = await deps.sessions.destroyAllForUser(user.id, req.ctx.session!.idHash, trx);
      await deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.session.revoke_others', subjectType: 'User', subjectId: user.id, detail: { sessionsEnded: n } });
      return n;
    });
    await req.ctx.flash('success', ended ? `Signed out ${ended} other session${ended === 1 ? '' : 's'}.` : 'There were no other sessions.');
    res.redirect(303, '/account');
  });

  // ---- re-authentication

  const reauthPage = async (req: Request, extra: object = {}, status = 200) =>
    req.ctx.render('core/reauth', { next: safeNext(req.query.next ?? req.body?.next), mfaOn: await deps.mfa.isEnabled(req.ctx.user!.id), values: {}, ...extra }, { title: 'Confirm it is you', status });

  r.get('/account/reauth', async (req) => reauthPage(req));

  r.post('/account/reauth', async (req, res) => {
    const user = req.ctx.user!;
    const parsed = reauthForm.safeParse(formBody(req.body));
    if (!parsed.success) return reauthPage(req, { errors: fieldErrors(parsed.error) }, 400);
    const { password, code } = parsed.data;
    let ok = false;
    if (password) {
      const row = (await deps.db('users').where({ id: user.id }).first('password_hash')) as { password_hash: string };
      ok = await deps.passwords.verify(row.password_hash, password);
    } else if (code) {
      const outcome = await checkSecondFactor(deps, req, user.id, code);
      if ('refused' in outcome && outcome.refused === 'throttled') {
        return tooMany(req, res, outcome.ms, 'core/reauth', { next: safeNext(parsed.data.next), mfaOn: true, errors: { code: `Too many wrong codes. Try again in ${humanDuration(outcome.ms)}.` }, values: {} }, { title: 'Confirm it is you' });
      }
      ok = !('refused' in outcome);
    } else {
      return reauthPage(req, { errors: { password: 'Enter your password' } }, 400);
    }
    if (!ok) {
      await transaction(deps.db, (trx) => deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.session.reauth_failed', subjectType: 'User', subjectId: user.id }));
      return reauthPage(req, { errors: password ? { password: 'That password is not right' } : { code: 'That code is not right, or it was already used' } }, 401);
    }
    // A new session id at re-authentication (SECURITY.md control 2).
    const { flash: _f, ...data } = req.ctx.session!.data;
    await rotateSession(deps, req, res, user.id, data);
    await transaction(deps.db, (trx) => deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.session.reauth', subjectType: 'User', subjectId: user.id, detail: { with: password ? 'password' : 'totp' } }));
    res.redirect(303, safeNext(parsed.data.next) === '/' ? '/account' : safeNext(parsed.data.next));
  });

  // ---- password

  const passwordPage = (req: Request, extra: object = {}, status = 200) => req.ctx.render('core/account-password', { ...extra }, { title: 'Change your password', status });
  r.get('/account/password', fresh, async (req) => passwordPage(req));
  r.post('/account/password', fresh, async (req, res) => {
    const user = req.ctx.user!;
    const body = formBody(req.body);
    const errors = newPasswordErrors(body, [user.name, user.email.split('@')[0]!, (await deps.branding.get()).firmName]);
    if (Object.keys(errors).length) return passwordPage(req, { errors }, 400);
    const hash = await deps.passwords.hash(String(body.password));
    await transaction(deps.db, (trx) => setPassword(deps, trx, { userId: user.id, passwordHash: hash, via: 'account', keepSession: req.ctx.session!.idHash }, req.ctx.actor()));
    // Every other session ended; this one gets a new id too.
    await rotateSession(deps, req, res, user.id, {});
    await req.ctx.flash('success', 'Password changed. Every other session was signed out.');
    res.redirect(303, '/account');
  });

  // ---- email

  const emailPage = (req: Request, extra: object = {}, status = 200) => req.ctx.render('core/account-email', { current: req.ctx.user!.email, values: {}, ...extra }, { title: 'Change your email', status });
  r.get('/account/email', fresh, async (req) => emailPage(req));
  r.post('/account/email', fresh, async (req, res) => {
    const user = req.ctx.user!;
    const body = formBody(req.body);
    const parsed = emailForm.safeParse(body);
    if (!parsed.success) return emailPage(req, { errors: fieldErrors(parsed.error), values: body }, 400);
    if (parsed.data.email === user.email) return emailPage(req, { errors: { email: 'That is already your email address' }, values: body }, 400);
    await transaction(deps.db, (trx) => requestEmailChange(deps, trx, user, parsed.data.email, req.ctx.actor()));
    await req.ctx.flash('info', `We sent a confirmation link to ${parsed.data.email}. Your email changes when you open it.`);
    res.redirect(303, '/account');
  });

  // ---- two-step sign-in

  const setupPage = async (req: Request, extra: object = {}, status = 200) => {
    const user = req.ctx.user!;
    let secret = '';
    const sealed = req.ctx.session!.data.mfaEnrol as string | undefined;
    if (sealed) {
      try {
        secret = deps.mfa.open(sealed, `enrol:${user.id}`);
      } catch {
        secret = '';
      }
    }
    if (!secret) {
      secret = deps.mfa.newSecret();
      req.ctx.session!.data = { ...req.ctx.session!.data, mfaEnrol: deps.mfa.seal(secret, `enrol:${user.id}`) };
      await deps.sessions.setData(req.ctx.session!.idHash, req.ctx.session!.data);
    }
    const brand = await deps.branding.get();
    await req.ctx.render(
      'core/mfa-setup',
      { action: '/account/mfa/setup', qr: await deps.mfa.qrDataUri(deps.mfa.otpauthUri(secret, user.email, brand.firmName)), secret: secret.replace(/(.{4})/g, '$1 ').trim(), forced: false, values: {}, ...extra },
      { title: 'Set up two-step sign-in', status },
    );
  };

  const alreadyOn = async (req: Request, res: Response) => {
    await req.ctx.flash('info', 'Two-step sign-in is already on.');
    res.redirect(303, '/account');
  };

  r.get('/account/mfa/setup', fresh, async (req, res) => {
    if (await deps.mfa.isEnabled(req.ctx.user!.id)) return alreadyOn(req, res);
    await setupPage(req);
  });

  r.post('/account/mfa/setup', fresh, async (req, res) => {
    const user = req.ctx.user!;
    if (await deps.mfa.isEnabled(user.id)) return alreadyOn(req, res);
    const parsed = codeForm.safeParse(formBody(req.body));
    if (!parsed.success) return setupPage(req, { errors: fieldErrors(parsed.error) }, 400);
    const result = await confirmEnrolment(deps, req, user.id, parsed.data.code);
    if ('refused' in result) {
      if (result.refused === 'throttled') {
        res.setHeader('Retry-After', String(Math.ceil(result.ms / 1000)));
        return setupPage(req, { errors: { code: `Too many wrong codes. Try again in ${humanDuration(result.ms)}.` } }, 429);
      }
      return setupPage(req, { errors: { code: 'That code does not match. Check the time on your phone and try the next code.' } }, 400);
    }
    const { mfaEnrol: _secret, ...data } = req.ctx.session!.data;
    req.ctx.session!.data = data;
    await deps.sessions.setData(req.ctx.session!.idHash, data);
    await transaction(deps.db, (trx) => notifyUser(deps, trx, user, 'Two-step sign-in is on', ['Two-step sign-in was turned on for your account. You will be asked for a code from your app when you sign in.']));
    await req.ctx.render('core/mfa-codes', { codes: result.codes, next: '/account' }, { title: 'Your recovery codes' });
  });

  r.post('/account/mfa/recovery-codes', fresh, async (req, res) => {
    const user = req.ctx.user!;
    if (!(await deps.mfa.isEnabled(user.id))) return res.redirect(303, '/account');
    const codes = await transaction(deps.db, async (trx) => {
      const list = await deps.mfa.replaceCodes(trx, user.id);
      await deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.mfa.recovery_codes', subjectType: 'User', subjectId: user.id });
      return list;
    });
    await req.ctx.render('core/mfa-codes', { codes, next: '/account' }, { title: 'Your new recovery codes' });
  });

  r.post('/account/mfa/disable', fresh, async (req, res) => {
    const user = req.ctx.user!;
    if (await deps.mfa.isRequired(user)) return accountPage(req, { mfaError: 'Your firm requires two-step sign-in, so it cannot be turned off.' }, 400);
    await transaction(deps.db, async (trx) => {
      await deps.mfa.disable(trx, user.id);
      await deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.mfa.disable', subjectType: 'User', subjectId: user.id });
      await notifyUser(deps, trx, user, 'Two-step sign-in is off', ['Two-step sign-in was turned off for your account, and its recovery codes no longer work.']);
      deps.events.publish(trx, 'core.mfa.disabled', { userId: user.id, by: 'self' });
    });
    await req.ctx.flash('success', 'Two-step sign-in is off.');
    res.redirect(303, '/account');
  });

  return r;
}
