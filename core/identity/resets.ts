// Password reset (SECURITY.md controls 13-15): a 256-bit token stored as SHA-256, valid 60
// minutes, single use, voided by a newer token, a password change or a sign-in. The link is built
// from `config.baseUrl`, never the Host header. Completing a reset ends every session and never
// signs anyone in, so MFA is still asked at the next sign-in.
import type { Trx, Db } from '../db/index.ts';
import { AtriumError } from '../errors.ts';
import { newId, newToken, sha256Hex } from '../ids.ts';
import type { Services } from '../services.ts';
import { renderMail } from '../mail/templates.ts';
import { setPassword } from './people.ts';
import { awaitingPassword } from './staff.ts';
import type { Actor } from './users.ts';

export const RESET_TTL_MS = 60 * 60_000;

type S = Pick<Services, 'clock' | 'audit' | 'events' | 'mail' | 'sessions' | 'branding' | 'config' | 'mfa'>;

/** Issue a reset link to a known, active account (earlier links die) and queue its mail. */
export async function issueReset(s: S, trx: Trx, user: { id: string; email: string; name: string }, actor: Actor): Promise<void> {
  const now = s.clock.now();
  const token = newToken();
  await trx('password_resets').where({ user_id: user.id }).whereNull('used_at').update({ used_at: now });
  const id = newId();
  await trx('password_resets').insert({ id, token_hash: sha256Hex(token), user_id: user.id, created_at: now, expires_at: now + RESET_TTL_MS, used_at: null });
  await s.audit.record(trx, { ...actor, actorId: actor.actorId ?? null, action: 'core.password.reset_request', subjectType: 'User', subjectId: user.id });
  const brand = await s.branding.get(trx);
  const body = renderMail({
    brand,
    greeting: `Hello ${user.name},`,
    paragraphs: ['Someone asked to reset the password of your account. If it was you, open the link and choose a new password.'],
    action: { label: 'Choose a new password', url: `${s.config.baseUrl}/password/reset/${token}` },
    after: ['The link works for 60 minutes and only once. If you did not ask for it, ignore this message: your password stays as it is.'],
    signature: brand.firmName,
  });
  await s.mail.enqueue(trx, { to: user.email, subject: 'Reset your password', text: body.text, html: body.html });
}

/** The account a reset link belongs to, if the link can still be used. */
export async function resetByToken(db: Db | Trx, token: string, now: number): Promise<{ id: string; userId: string; email: string; name: string } | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const row = (await db('password_resets as r')
    .join('users as u', 'u.id', 'r.user_id')
    .where('r.token_hash', sha256Hex(token))
    .whereNull('r.used_at')
    .andWhere('r.expires_at', '>', now)
    .andWhere('u.disabled', false)
    .first('r.id', 'u.id as user_id', 'u.email', 'u.name')) as Record<string, string> | undefined;
  return row ? { id: row.id!, userId: row.user_id!, email: row.email!, name: row.name! } : null;
}

/** Spend the token and set the password; every session of the person ends. */
export async function completeReset(s: S, trx: Trx, token: string, passwordHash: string, actor: Actor): Promise<string> {
  const now = s.clock.now();
  const reset = await resetByToken(trx, token, now);
  if (!reset) throw new AtriumError('ATR_TOKEN_INVALID', undefined, { status: 410 });
  const spent = await trx('password_resets').where({ id: reset.id }).whereNull('used_at').update({ used_at: now });
  if (spent !== 1) throw new AtriumError('ATR_TOKEN_INVALID', undefined, { status: 410 });
  // A colleague's first password (core/identity/staff.ts) is not a change: no "was changed" mail.
  const via = (await awaitingPassword(trx, reset.userId)) ? 'welcome' : 'reset';
  await setPassword(s, trx, { userId: reset.userId, passwordHash, via }, { ...actor, actorId: reset.userId });
  return reset.userId;
}
