// Changes to a person that end their sessions (SECURITY.md control 4): a new password, an
// account disabled, a membership removed, MFA reset by an admin. Each runs in the caller's
// transaction with its audit event, its notification mail (outbox) and its event after commit.
import type { Trx } from '../db/index.ts';
import { AtriumError } from '../errors.ts';
import type { Services } from '../services.ts';
import { renderMail } from '../mail/templates.ts';
import type { Actor } from './users.ts';

type S = Pick<Services, 'clock' | 'audit' | 'events' | 'mail' | 'sessions' | 'branding' | 'config' | 'mfa'>;

async function notify(s: S, trx: Trx, to: { email: string; name: string }, subject: string, paragraphs: string[]): Promise<void> {
  const brand = await s.branding.get(trx);
  const body = renderMail({
    brand,
    greeting: `Hello ${to.name},`,
    paragraphs,
    after: ['If this was not you, contact your administrator at once.'],
    signature: brand.firmName,
  });
  await s.mail.enqueue(trx, { to: to.email, subject, text: body.text, html: body.html });
}

async function userRow(trx: Trx, id: string): Promise<{ id: string; email: string; name: string; firm_role: string | null }> {
  const row = await trx('users').where({ id }).first('id', 'email', 'name', 'firm_role');
  if (!row) throw new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });
  return row;
}

/**
 * Store a new password hash. Every outstanding reset link stops working and every session of the
 * person ends, pending-MFA ones included, except `keepSession` (the one that changed it, which the
 * caller then replaces with a new id).
 */
export async function setPassword(
  s: S,
  trx: Trx,
  input: { userId: string; passwordHash: string; via: 'account' | 'reset' | 'welcome'; keepSession?: string },
  actor: Actor,
): Promise<void> {
  const user = await userRow(trx, input.userId);
  const now = s.clock.now();
  await trx('users').where({ id: user.id }).update({ password_hash: input.passwordHash, password_changed_at: now });
  await trx('password_resets').where({ user_id: user.id }).whereNull('used_at').update({ used_at: now });
  const ended = await s.sessions.destroyAllForUser(user.id, input.keepSession, trx);
  await s.audit.record(trx, { ...actor, action: 'core.user.password_change', subjectType: 'User', subjectId: user.id, detail: { via: input.via, sessionsEnded: ended } });
  // A first password (a colleague's welcome link) changed nothing they knew: no alarm mail.
  if (input.via !== 'welcome') {
    await notify(s, trx, user, 'Your password was changed', [
      `The password of your account (${user.email}) was just changed${input.via === 'reset' ? ' with a reset link' : ''}.`,
      'Every other place you were signed in has been signed out.',
    ]);
  }
  s.events.publish(trx, 'core.user.passwordChanged', { userId: user.id, via: input.via });
}

/** Disable or re-enable an account. Disabling ends every session at once. */
export async function setDisabled(s: S, trx: Trx, userId: string, disabled: boolean, actor: Actor): Promise<void> {
  const user = await userRow(trx, userId);
  await trx('users').where({ id: user.id }).update({ disabled });
  const ended = disabled ? await s.sessions.destroyAllForUser(user.id, undefined, trx) : 0;
  await s.audit.record(trx, { ...actor, action: disabled ? 'core.user.disable' : 'core.user.enable', subjectType: 'User', subjectId: user.id, detail: { sessionsEnded: ended } });
  s.events.publish(trx, disabled ? 'core.user.disabled' : 'core.user.enabled', { userId: user.id });
}

/** Remove a membership. The person's sessions end, so nothing they had open keeps the role. */
export async function removeMembership(s: S, trx: Trx, input: { membershipId: string; workspaceId: string }, actor: Actor): Promise<void> {
  const m = (await trx('memberships').where({ id: input.membershipId, workspace_id: input.workspaceId }).first('id', 'user_id', 'role')) as
    | { id: string; user_id: string; role: string }
    | undefined;
  if (!m) throw new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });
  await trx('memberships').where({ id: m.id }).delete();
  const ended = await s.sessions.destroyAllForUser(m.user_id, undefined, trx);
  await s.audit.record(trx, {
    ...actor,
    action: 'core.membership.remove',
    subjectType: 'Membership',
    subjectId: m.id,
    workspaceId: input.workspaceId,
    detail: { userId: m.user_id, role: m.role, sessionsEnded: ended },
  });
  s.events.publish(trx, 'core.membership.removed', { workspaceId: input.workspaceId, userId: m.user_id, role: m.role });
}

/** An admin turns someone's MFA off: audited, mailed to them, and their sessions end. */
export async function adminResetMfa(s: S, trx: Trx, userId: string, actor: Actor): Promise<void> {
  const user = await userRow(trx, userId);
  await s.mfa.disable(trx, user.id);
  const ended = await s.sessions.destroyAllForUser(user.id, undefined, trx);
  await s.audit.record(trx, { ...actor, action: 'core.mfa.reset', subjectType: 'User', subjectId: user.id, detail: { sessionsEnded: ended } });
  await notify(s, trx, user, 'Your two-step sign-in was reset', [
    'An administrator turned off two-step sign-in for your account and removed your recovery codes.',
    'Set it up again from your account page after you next sign in.',
  ]);
  s.events.publish(trx, 'core.mfa.disabled', { userId: user.id, by: 'admin' });
}

export { notify as notifyUser };
