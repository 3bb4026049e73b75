// Firm staff run from the admin pages: adding a colleague (an account with no password yet and a
// 7-day link to choose one), changing a firm role, and assigning firm people to a client's
// workspace (its account team) or taking them off it. Each runs in the caller's transaction with
// its audit event, mail (outbox) and event after commit, like people.ts.
import { toBool, type Trx, type Db } from '../db/index.ts';
import { AtriumError } from '../errors.ts';
import { newId, newToken, sha256Hex } from '../ids.ts';
import type { Services } from '../services.ts';
import type { FirmRole } from '../plugins/define.ts';
import { renderMail } from '../mail/templates.ts';
import { possessive, roleName } from '../wording.ts';
import { notifyUser, removeMembership } from './people.ts';
import { addMember, createUser, type Actor } from './users.ts';

/** How long the "choose your password" link of a new colleague works: as long as an invitation. */
export const WELCOME_TTL_MS = 7 * 24 * 3_600_000;

/**
 * The stored password hash of an account whose person has not chosen a password yet. Empty, so
 * sign-in burns the dummy hash and fails like any wrong password (core/identity/passwords.ts).
 */
export const NO_PASSWORD = '';

/** Firm roles from the lowest; a change down this list takes access away. */
const RANK: Record<FirmRole, number> = { staff: 1, admin: 2, owner: 3 };

type S = Pick<Services, 'clock' | 'audit' | 'events' | 'mail' | 'sessions' | 'branding' | 'config' | 'mfa'>;

const refuse = (field: string, sentence: string) => new AtriumError('ATR_VALIDATION', sentence, { status: 400, details: { field } });

/**
 * Firm roles `actor` may hand out or take away: an owner any, an admin staff and admin (only an
 * owner makes or unmakes an owner).
 */
export function grantableFirmRoles(actorRole: FirmRole | null): FirmRole[] {
  if (actorRole === 'owner') return ['staff', 'admin', 'owner'];
  if (actorRole === 'admin') return ['staff', 'admin'];
  return [];
}

/** Queue the "choose your password" mail with a fresh link; earlier links of the person die. */
async function sendWelcome(s: S, trx: Trx, user: { id: string; email: string; name: string; firmRole: FirmRole }, inviterName: string): Promise<void> {
  const now = s.clock.now();
  const token = newToken();
  // The same table and page as a password reset (single use, voided by a newer link or a sign-in),
  // with an invitation's lifetime.
  await trx('password_resets').where({ user_id: user.id }).whereNull('used_at').update({ used_at: now });
  await trx('password_resets').insert({ id: newId(), token_hash: sha256Hex(token), user_id: user.id, created_at: now, expires_at: now + WELCOME_TTL_MS, used_at: null });
  const brand = await s.branding.get(trx);
  const body = renderMail({
    brand,
    greeting: `Hello ${user.name},`,
    paragraphs: [
      `${inviterName} added you to ${possessive(brand.firmName)} client portal, as ${roleName(user.firmRole).toLowerCase()}.`,
      'Open the link to choose your password, then sign in with this email address.',
    ],
    action: { label: 'Choose your password', url: `${s.config.baseUrl}/password/reset/${token}` },
    after: ['The link works for 7 days and only once. If you did not expect this message, ignore it.'],
    signature: brand.firmName,
  });
  await s.mail.enqueue(trx, { to: user.email, subject: `Your account on ${possessive(brand.firmName)} client portal`, text: body.text, html: body.html });
}

/**
 * Add a colleague: an account with `firmRole` and no password yet, and a mail with a link to
 * choose one. Refused (ATR_VALIDATION, beside the field) for an address that already has an
 * account: a client's account never becomes staff by accident.
 */
export async function addColleague(
  s: S,
  trx: Trx,
  input: { email: string; name: string; firmRole: FirmRole; inviter: { id: string; name: string; firmRole: FirmRole | null } },
  actor: Actor,
): Promise<string> {
  if (!grantableFirmRoles(input.inviter.firmRole).includes(input.firmRole)) throw refuse('role', 'You cannot give this role');
  const existing = (await trx('users').where({ email: input.email }).first('firm_role')) as { firm_role: string | null } | undefined;
  if (existing) {
    throw refuse(
      'email',
      existing.firm_role ? `${input.email} is already someone at the firm.` : `${input.email} belongs to a client's account. Firm staff need an address of their own.`,
    );
  }
  const user = await createUser(s as Services, trx, { email: input.email, name: input.name, passwordHash: NO_PASSWORD, firmRole: input.firmRole }, actor);
  await s.audit.record(trx, { ...actor, action: 'core.staff.invite', subjectType: 'User', subjectId: user.id, detail: { firmRole: input.firmRole } });
  await sendWelcome(s, trx, { ...user, firmRole: input.firmRole }, input.inviter.name);
  return user.id;
}

/** Whether the person has never chosen a password (added as a colleague, link not used yet). */
export async function awaitingPassword(db: Db | Trx, userId: string): Promise<boolean> {
  const row = (await db('users').where({ id: userId }).first('password_hash')) as { password_hash: string } | undefined;
  return row?.password_hash === NO_PASSWORD;
}

/** Send a new colleague their link again (a new one; the old one dies). Only before they chose a password. */
export async function resendWelcome(s: S, trx: Trx, userId: string, inviterName: string, actor: Actor): Promise<void> {
  const row = (await trx('users').where({ id: userId }).first('id', 'email', 'name', 'firm_role', 'password_hash', 'disabled')) as
    | { id: string; email: string; name: string; firm_role: FirmRole | null; password_hash: string }
    | undefined;
  if (!row || !row.firm_role || row.password_hash !== NO_PASSWORD) throw new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });
  await s.audit.record(trx, { ...actor, action: 'core.staff.invite', subjectType: 'User', subjectId: row.id, detail: { firmRole: row.firm_role, resent: true } });
  await sendWelcome(s, trx, { id: row.id, email: row.email, name: row.name, firmRole: row.firm_role }, inviterName);
}

/**
 * Change a firm person's role. `actorRole` must be allowed to give the new role and to take the
 * old one (only owners touch owners); the caller keeps people from changing their own. A change
 * that takes access away ends the person's sessions at once; they are told by mail either way.
 */
export async function setFirmRole(s: S, trx: Trx, input: { userId: string; role: FirmRole; actorRole: FirmRole | null }, actor: Actor): Promise<{ from: FirmRole; to: FirmRole } | null> {
  const row = (await trx('users').where({ id: input.userId }).first('id', 'email', 'name', 'firm_role')) as { id: string; email: string; name: string; firm_role: FirmRole | null } | undefined;
  if (!row || !row.firm_role) throw new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });
  const allowed = grantableFirmRoles(input.actorRole);
  if (!allowed.includes(row.firm_role) || !allowed.includes(input.role)) throw refuse('role', 'Only an owner can give or take away the owner role');
  if (row.firm_role === input.role) return null;
  const from = row.firm_role;
  await trx('users').where({ id: row.id }).update({ firm_role: input.role });
  const ended = RANK[input.role] < RANK[from] ? await s.sessions.destroyAllForUser(row.id, undefined, trx) : 0;
  await s.audit.record(trx, { ...actor, action: 'core.user.role_change', subjectType: 'User', subjectId: row.id, detail: { from, to: input.role, sessionsEnded: ended } });
  await notifyUser(s, trx, row, 'Your role at the firm changed', [
    `Your role on the client portal is now ${roleName(input.role).toLowerCase()} (it was ${roleName(from).toLowerCase()}).`,
    ...(ended ? ['You were signed out everywhere; sign in again to continue.'] : []),
  ]);
  s.events.publish(trx, 'core.user.roleChanged', { userId: row.id, from, to: input.role });
  return { from, to: input.role };
}

/** Put a firm person on a workspace's account team (a `staff` membership). */
export async function assignStaff(s: S, trx: Trx, input: { workspaceId: string; userId: string }, actor: Actor): Promise<void> {
  const row = (await trx('users').where({ id: input.userId }).first('firm_role', 'disabled')) as { firm_role: string | null; disabled: unknown } | undefined;
  if (!row || !row.firm_role) throw refuse('userId', 'Choose someone at the firm');
  if (toBool(row.disabled)) throw refuse('userId', 'This account is disabled');
  if (await trx('memberships').where({ workspace_id: input.workspaceId, user_id: input.userId }).first('id')) throw refuse('userId', 'Already on this workspace');
  await addMember(s as Services, trx, { workspaceId: input.workspaceId, userId: input.userId, role: 'staff' }, actor);
}

/** Take a firm person off a workspace's account team: only `staff` memberships (404 otherwise). */
export async function unassignStaff(s: S, trx: Trx, input: { workspaceId: string; membershipId: string }, actor: Actor): Promise<void> {
  const m = await trx('memberships').where({ id: input.membershipId, workspace_id: input.workspaceId, role: 'staff' }).first('id');
  if (!m) throw new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });
  await removeMembership(s, trx, input, actor);
}

/** The account team of a workspace and the firm people who could join it, for its admin page. */
export async function workspaceTeam(db: Db, workspaceId: string): Promise<{
  team: Array<{ membershipId: string; userId: string; name: string; email: string; role: FirmRole }>;
  candidates: Array<{ userId: string; name: string; email: string; role: FirmRole }>;
}> {
  const team = (await db('memberships as m')
    .join('users as u', 'u.id', 'm.user_id')
    .where({ 'm.workspace_id': workspaceId, 'm.role': 'staff' })
    .orderBy('u.name')
    .select('m.id as mid', 'u.id', 'u.name', 'u.email', 'u.firm_role')) as Array<Record<string, unknown>>;
  const candidates = (await db('users as u')
    .whereNotNull('u.firm_role')
    .andWhere('u.disabled', false)
    .whereNotExists(db('memberships as m').whereRaw('m.user_id = u.id').andWhere('m.workspace_id', workspaceId).select('m.id'))
    .orderBy('u.name')
    .limit(500)
    .select('u.id', 'u.name', 'u.email', 'u.firm_role')) as Array<Record<string, unknown>>;
  return {
    team: team.map((t) => ({ membershipId: String(t.mid), userId: String(t.id), name: String(t.name), email: String(t.email), role: t.firm_role as FirmRole })),
    candidates: candidates.map((c) => ({ userId: String(c.id), name: String(c.name), email: String(c.email), role: c.firm_role as FirmRole })),
  };
}
