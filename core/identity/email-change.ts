// Changing the sign-in email: asked from /account (after re-authentication), proven by a link
// mailed to the new address (256-bit token, SHA-256 stored, 24 hours, single use). The old address
// is told when the change happens. If the new address already has an account, no link is sent,
// and the person sees the same reply (no enumeration).
import type { Trx, Db } from '../db/index.ts';
import { AtriumError } from '../errors.ts';
import { newId, newToken, sha256Hex } from '../ids.ts';
import type { Services } from '../services.ts';
import { renderMail } from '../mail/templates.ts';
import { notifyUser } from './people.ts';
import type { Actor } from './users.ts';

export const EMAIL_CHANGE_TTL_MS = 24 * 3_600_000;
type S = Pick<Services, 'clock' | 'audit' | 'events' | 'mail' | 'sessions' | 'branding' | 'config' | 'mfa'>;

export async function requestEmailChange(s: S, trx: Trx, user: { id: string; name: string }, newEmail: string, actor: Actor): Promise<void> {
  const now = s.clock.now();
  await trx('email_changes').where({ user_id: user.id }).whereNull('used_at').update({ used_at: now });
  await s.audit.record(trx, { ...actor, action: 'core.user.email_change_request', subjectType: 'User', subjectId: user.id });
  if (await trx('users').where({ email: newEmail }).first('id')) return;
  const token = newToken();
  await trx('email_changes').insert({ id: newId(), token_hash: sha256Hex(token), user_id: user.id, new_email: newEmail, created_at: now, expires_at: now + EMAIL_CHANGE_TTL_MS, used_at: null });
  const brand = await s.branding.get(trx);
  const body = renderMail({
    brand,
    greeting: `Hello ${user.name},`,
    paragraphs: ['You asked to sign in to your client portal account with this email address from now on. Open the link to confirm.'],
    action: { label: 'Confirm the new address', url: `${s.config.baseUrl}/account/email/confirm/${token}` },
    after: ['The link works for 24 hours and only once. If you did not ask for this, ignore this message.'],
    signature: brand.firmName,
  });
  await s.mail.enqueue(trx, { to: newEmail, subject: 'Confirm your new email address', text: body.text, html: body.html });
}

export async function emailChangeByToken(db: Db | Trx, token: string, now: number): Promise<{ id: string; userId: string; newEmail: string } | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const row = (await db('email_changes as c')
    .join('users as u', 'u.id', 'c.user_id')
    .where('c.token_hash', sha256Hex(token))
    .whereNull('c.used_at')
    .andWhere('c.expires_at', '>', now)
    .andWhere('u.disabled', false)
    .first('c.id', 'c.user_id', 'c.new_email')) as Record<string, string> | undefined;
  return row ? { id: row.id!, userId: row.user_id!, newEmail: row.new_email! } : null;
}

export async function confirmEmailChange(s: S, trx: Trx, token: string, actor: Actor): Promise<string> {
  const now = s.clock.now();
  const change = await emailChangeByToken(trx, token, now);
  if (!change) throw new AtriumError('ATR_TOKEN_INVALID', undefined, { status: 410 });
  const spent = await trx('email_changes').where({ id: change.id }).whereNull('used_at').update({ used_at: now });
  if (spent !== 1) throw new AtriumError('ATR_TOKEN_INVALID', undefined, { status: 410 });
  if (await trx('users').where({ email: change.newEmail }).first('id')) throw new AtriumError('ATR_TOKEN_INVALID', 'the address was taken meanwhile', { status: 410 });
  const user = (await trx('users').where({ id: change.userId }).first('id', 'email', 'name')) as { id: string; email: string; name: string };
  await trx('users').where({ id: user.id }).update({ email: change.newEmail });
  // Reset links went to the old address: they stop working.
  await trx('password_resets').where({ user_id: user.id }).whereNull('used_at').update({ used_at: now });
  await s.audit.record(trx, { ...actor, actorId: user.id, action: 'core.user.email_change', subjectType: 'User', subjectId: user.id });
  await notifyUser(s, trx, user, 'Your sign-in email was changed', [`Your account now signs in with ${change.newEmail} instead of ${user.email}.`]);
  s.events.publish(trx, 'core.user.emailChanged', { userId: user.id });
  return user.id;
}
