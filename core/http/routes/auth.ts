// Sign in and sign out, and the second step. A new session id is issued at login and again when
// the second step completes; an unknown email costs the same time as a wrong password. Failed
// attempts are counted in the database per (account, IP), per IP and per account (SECURITY.md
// section 3); a locked key answers 429 with Retry-After before the password is even checked.
// A session whose password step passed but whose TOTP step did not is "pending": it reaches only
// /login/mfa (or /login/mfa/setup when MFA is required and not set up yet).
import { Router, type Request } from 'express';
import { z } from 'zod';
import { transaction } from '../../db/index.ts';
import { AtriumError } from '../../errors.ts';
import { findUserByEmail } from '../../identity/users.ts';
import { accountKey, humanDuration, ipKey, LIMITS, MFA_CHALLENGE_LOCK_MS } from '../../identity/throttle.ts';
import { normaliseRecoveryCode } from '../../identity/mfa.ts';
import { clearSessionCookie } from '../cookies.ts';
import { fieldErrors, formBody, safeNext } from '../forms.ts';
import { beginSession, completeLogin, rotateSession, tooMany } from '../security.ts';
import type { HttpDeps } from '../deps.ts';
import { streamKey } from '../../live.ts';

const loginForm = z.strictObject({
  email: z.string().trim().min(1, 'Enter your email address').max(320), // not free text: an address as typed, only looked up
  password: z.string().min(1, 'Enter your password').max(4096), // not free text: a password, used exactly as typed
  next: z.string().max(2000).optional(), // not free text: a local path, checked by safeNext
});

const codeForm = z.strictObject({
  code: z.string().trim().min(1, 'Enter the code from your authenticator app, or a recovery code').max(40, 'That is not a code'), // not free text: a one-time code, compared
});

export const mfaKeys = (userId: string, sessionIdHash: string) => ({ account: `mfa:acct:${userId}`, challenge: `mfa:ch:${sessionIdHash}` });

/**
 * Check a second-step code for a person: a TOTP code, or a recovery code. Counts failures
 * against the challenge and the account (5 per challenge, 10 per 15 minutes per account, neither
 * reset by a new password sign-in). A secret that cannot be read denies. Returns what was used,
 * or a refusal (`throttled` with the wait, or `wrong`).
 */
export async function checkSecondFactor(
  deps: HttpDeps,
  req: Request,
  userId: string,
  code: string,
): Promise<{ ok: 'totp' } | { ok: 'recovery'; remaining: number } | { refused: 'throttled'; ms: number } | { refused: 'wrong' }> {
  const keys = mfaKeys(userId, req.ctx.session?.idHash ?? 'none');
  const wait = await deps.throttle.retryAfter([keys.account, keys.challenge]);
  if (wait > 0) return { refused: 'throttled', ms: wait };
  let result: { ok: 'totp' } | { ok: 'recovery'; remaining: number } | null = null;
  try {
    if (/^\d{6}$/.test(code.replace(/\s+/g, ''))) {
      if (await deps.mfa.verifyTotp(userId, code)) result = { ok: 'totp' };
    } else if (normaliseRecoveryCode(code)) {
      const remaining = await deps.mfa.useRecoveryCode(userId, code);
      if (remaining !== null) result = { ok: 'recovery', remaining };
    }
  } catch (err) {
    // Provider error = deny (NC-SA-2018-007): logged, counted as a failure, never a pass.
    req.ctx.log.error({ err: (err as AtriumError).code ?? (err as Error).message }, 'second factor could not be checked');
    result = null;
  }
  if (result) {
    await deps.throttle.reset(keys.account);
    return result;
  }
  const challengeBlock = await deps.throttle.hit(keys.challenge, LIMITS.mfaChallenge);
  if (challengeBlock > 0) await deps.throttle.block(keys.account, MFA_CHALLENGE_LOCK_MS);
  const accountBlock = await deps.throttle.hit(keys.account, LIMITS.mfaAccount);
  await transaction(deps.db, (trx) =>
    deps.audit.record(trx, { ...req.ctx.actor(), actorId: userId, action: 'core.mfa.failed', subjectType: 'User', subjectId: userId, detail: { locked: challengeBlock > 0 || accountBlock > 0 } }),
  );
  const ms = Math.max(challengeBlock > 0 ? MFA_CHALLENGE_LOCK_MS : 0, accountBlock);
  return ms > 0 ? { refused: 'throttled', ms } : { refused: 'wrong' };
}

export function authRoutes(deps: HttpDeps): Router {
  const r = Router();
  const secure = deps.config.baseUrl.startsWith('https://');

  r.get('/login', async (req, res) => {
    if (req.ctx.session?.mfaPending) return res.redirect(302, '/login/mfa');
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
    const acct = accountKey(email);
    const ip = ipKey(req.ctx.ip);
    const keys = { pair: `login:pair:${acct}:${ip}`, ip: `login:ip:${ip}`, account: `login:acct:${acct}` };
    // Locked: refused before the password is looked at, so even the right password gets 429.
    const wait = await deps.throttle.retryAfter([keys.pair, keys.ip, keys.account]);
    if (wait > 0) {
      return tooMany(req, res, wait, 'core/login', { errors: { _form: `Too many failed sign-ins. Try again in ${humanDuration(wait)}.` }, values: { email }, next }, { title: 'Sign in', layout: 'auth' });
    }
    const user = await findUserByEmail(deps.db, email);
    const ok = await deps.passwords.verify(user?.passwordHash, password);
    if (!user || !ok || user.disabled) {
      const blocks = [await deps.throttle.hit(keys.pair, LIMITS.loginPair), await deps.throttle.hit(keys.ip, LIMITS.loginIp), await deps.throttle.hit(keys.account, LIMITS.loginAccount)];
      await transaction(deps.db, (trx) =>
        deps.audit.record(trx, {
          ...req.ctx.actor(),
          actorId: user?.id ?? null,
          action: 'core.session.login_failed',
          subjectType: 'User',
          subjectId: user?.id ?? null,
          detail: Math.max(...blocks) > 0 ? { locked: true } : {},
        }),
      );
      return req.ctx.render(
        'core/login',
        { errors: { _form: 'That email and password do not match an active account.' }, values: { email }, next },
        { title: 'Sign in', status: 401, layout: 'auth' },
      );
    }
    await deps.throttle.reset(keys.pair);
    if (deps.passwords.needsRehash(user.passwordHash)) {
      const rehash = await deps.passwords.hash(password);
      await deps.db('users').where({ id: user.id }).update({ password_hash: rehash });
    }
    res.redirect(303, await beginSession(deps, req, res, user, next, { via: 'password' }));
  });

  // ---- the second step

  const pendingUser = (req: Request) => (req.ctx.session?.mfaPending ? (req.ctx.session.pendingUser ?? null) : null);
  const afterLogin = (req: Request) => safeNext(req.ctx.session?.data.next);

  const challengePage = (req: Request, extra: object = {}, status = 200) =>
    req.ctx.render('core/login-mfa', { values: {}, ...extra }, { title: 'Two-step sign-in', status, layout: 'auth' });

  r.get('/login/mfa', async (req, res) => {
    const user = pendingUser(req);
    if (!user) return res.redirect(302, req.ctx.user ? '/' : '/login');
    if (!user.mfaEnabled) return res.redirect(302, '/login/mfa/setup');
    await challengePage(req);
  });

  r.post('/login/mfa', async (req, res, next) => {
    const user = pendingUser(req);
    if (!user || !user.mfaEnabled) return next(new AtriumError('ATR_FORBIDDEN', 'no second step pending', { status: 401 }));
    const parsed = codeForm.safeParse(formBody(req.body));
    if (!parsed.success) return challengePage(req, { errors: fieldErrors(parsed.error) }, 400);
    const outcome = await checkSecondFactor(deps, req, user.id, parsed.data.code);
    if ('refused' in outcome) {
      if (outcome.refused === 'throttled') {
        return tooMany(req, res, outcome.ms, 'core/login-mfa', { errors: { code: `Too many wrong codes. Try again in ${humanDuration(outcome.ms)}.` }, values: {} }, { title: 'Two-step sign-in', layout: 'auth' });
      }
      return challengePage(req, { errors: { code: 'That code is not right, or it was already used. Try the next one.' } }, 401);
    }
    const target = afterLogin(req);
    // A new session id at MFA completion; the pending one is gone.
    await rotateSession(deps, req, res, user.id, {});
    await transaction(deps.db, (trx) => completeLogin(deps, trx, req, user.id, { via: 'password', mfa: outcome.ok }));
    if (outcome.ok === 'recovery') {
      await req.ctx.flash(outcome.remaining <= 3 ? 'error' : 'info', `You signed in with a recovery code. ${outcome.remaining} left; make new ones on your account page if you are running low.`);
    }
    res.redirect(303, target);
  });

  // Forced enrolment: MFA is required for this person and they have none yet. A person who has
  // MFA may never enrol a new factor from a half-signed-in session (NC-SA-2018-011).
  const enrolPage = async (req: Request, user: { id: string; email: string }, extra: object = {}, status = 200) => {
    let sealed = req.ctx.session!.data.mfaEnrol as string | undefined;
    let secret: string;
    try {
      secret = sealed ? deps.mfa.open(sealed, `enrol:${user.id}`) : '';
    } catch {
      secret = '';
    }
    if (!secret) {
      secret = deps.mfa.newSecret();
      sealed = deps.mfa.seal(secret, `enrol:${user.id}`);
      req.ctx.session!.data = { ...req.ctx.session!.data, mfaEnrol: sealed };
      await deps.sessions.setData(req.ctx.session!.idHash, req.ctx.session!.data);
    }
    const brand = await deps.branding.get();
    const uri = deps.mfa.otpauthUri(secret, user.email, brand.firmName);
    await req.ctx.render(
      'core/mfa-setup',
      { action: req.path, qr: await deps.mfa.qrDataUri(uri), secret: secret.replace(/(.{4})/g, '$1 ').trim(), forced: true, values: {}, ...extra },
      { title: 'Set up two-step sign-in', status, layout: 'auth' },
    );
  };

  r.get('/login/mfa/setup', async (req, res, next) => {
    const user = pendingUser(req);
    if (!user) return res.redirect(302, req.ctx.user ? '/account/mfa/setup' : '/login');
    if (user.mfaEnabled) return next(new AtriumError('ATR_FORBIDDEN', 'MFA is already set up; enter a code instead', { status: 403 }));
    await enrolPage(req, user);
  });

  r.post('/login/mfa/setup', async (req, res, next) => {
    const user = pendingUser(req);
    if (!user) return next(new AtriumError('ATR_FORBIDDEN', 'no second step pending', { status: 401 }));
    if (user.mfaEnabled) return next(new AtriumError('ATR_FORBIDDEN', 'MFA is already set up', { status: 403 }));
    const parsed = codeForm.safeParse(formBody(req.body));
    if (!parsed.success) return enrolPage(req, user, { errors: fieldErrors(parsed.error) }, 400);
    const result = await confirmEnrolment(deps, req, user.id, parsed.data.code);
    if ('refused' in result) {
      if (result.refused === 'throttled') {
        res.setHeader('Retry-After', String(Math.ceil(result.ms / 1000)));
        return enrolPage(req, user, { errors: { code: `Too many wrong codes. Try again in ${humanDuration(result.ms)}.` } }, 429);
      }
      return enrolPage(req, user, { errors: { code: 'That code does not match. Check the time on your phone and try the next code.' } }, 400);
    }
    const target = afterLogin(req);
    await rotateSession(deps, req, res, user.id, {});
    await transaction(deps.db, (trx) => completeLogin(deps, trx, req, user.id, { via: 'password', mfa: 'enrolled' }));
    await req.ctx.render('core/mfa-codes', { codes: result.codes, next: target }, { title: 'Your recovery codes', layout: 'auth' });
  });

  r.post('/logout', async (req, res) => {
    if (req.ctx.session) {
      await deps.sessions.destroy(req.ctx.session.idHash);
      if (req.ctx.user) {
        await deps.live.endStreams(req.ctx.user.id, [streamKey(req.ctx.session.idHash)]).catch((err) => req.ctx.log.warn({ err }, 'ending live streams failed'));
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

/**
 * Confirm an enrolment from the secret sealed in the session: the code must match (one step
 * either way); then MFA is on and ten recovery codes exist. Wrong codes count like any other.
 */
export async function confirmEnrolment(
  deps: HttpDeps,
  req: Request,
  userId: string,
  code: string,
): Promise<{ codes: string[] } | { refused: 'throttled'; ms: number } | { refused: 'wrong' }> {
  const keys = mfaKeys(userId, req.ctx.session?.idHash ?? 'none');
  const wait = await deps.throttle.retryAfter([keys.account, keys.challenge]);
  if (wait > 0) return { refused: 'throttled', ms: wait };
  const sealed = req.ctx.session?.data.mfaEnrol as string | undefined;
  let step: number | null = null;
  let secret = '';
  if (sealed) {
    try {
      secret = deps.mfa.open(sealed, `enrol:${userId}`);
      step = deps.mfa.matchStep(secret, code);
    } catch {
      step = null;
    }
  }
  if (step === null) {
    const block = await deps.throttle.hit(keys.account, LIMITS.mfaAccount);
    return block > 0 ? { refused: 'throttled', ms: block } : { refused: 'wrong' };
  }
  const codes = await transaction(deps.db, async (trx) => {
    const list = await deps.mfa.enable(trx, userId, secret, step!);
    await deps.audit.record(trx, { ...req.ctx.actor(), actorId: userId, action: 'core.mfa.enable', subjectType: 'User', subjectId: userId });
    deps.events.publish(trx, 'core.mfa.enabled', { userId });
    return list;
  });
  return { codes };
}
