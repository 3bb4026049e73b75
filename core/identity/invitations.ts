// Invitations into a workspace (SECURITY.md control 16). An invitation is bound on the server to
// (workspace, email, role): the accept form carries none of them. Its token is 256-bit random,
// stored as SHA-256, valid 7 days and single use; a resend issues a new token (the old link dies).
import type { Trx, Db } from '../db/index.ts';
import { AtriumError } from '../errors.ts';
import { newId, newToken, sha256Hex } from '../ids.ts';
import type { Services } from '../services.ts';
import type { WorkspaceRole, FirmRole } from '../plugins/define.ts';
import { renderMail } from '../mail/templates.ts';
import { possessive } from '../wording.ts';
import { addMember, createUser, type Actor } from './users.ts';

export const INVITE_TTL_MS = 7 * 24 * 3_600_000;

/** Client roles, highest first. A client admin may invite up to their own rank. */
export const CLIENT_ROLES = ['client_admin', 'client_member', 'client_viewer'] as const;
export type ClientRole = (typeof CLIENT_ROLES)[number];
const RANK: Record<ClientRole, number> = { client_admin: 3, client_member: 2, client_viewer: 1 };
export const ROLE_LABELS: Record<ClientRole, string> = { client_admin: 'Administrator', client_member: 'Member', client_viewer: 'Viewer' };

/**
 * Roles this person may hand out in this workspace: all client roles for owners and admins and
 * for the firm staff assigned to the workspace (its account team), else up to their own.
 */
export function invitableRoles(firmRole: FirmRole | null, workspaceRole: WorkspaceRole | null): ClientRole[] {
  if (firmRole === 'owner' || firmRole === 'admin') return [...CLIENT_ROLES];
  if (firmRole === 'staff' && workspaceRole === 'staff') return [...CLIENT_ROLES];
  if (!workspaceRole || workspaceRole === 'staff') return [];
  const own = RANK[workspaceRole as ClientRole] ?? 0;
  return CLIENT_ROLES.filter((r) => RANK[r] <= own);
}

type S = Pick<Services, 'clock' | 'audit' | 'events' | 'mail' | 'branding' | 'config'>;

export interface InvitationRow {
  id: string;
  workspace_id: string;
  email: string;
  role: ClientRole;
  invited_by: string | null;
  created_at: number;
  expires_at: number;
  last_sent_at: number;
  send_count: number;
  accepted_at: number | null;
  revoked_at: number | null;
}

export function inviteUrl(config: Services['config'], token: string): string {
  return `${config.baseUrl}/invite/${token}`;
}

async function sendInvite(s: S, trx: Trx, inv: { email: string; role: ClientRole; workspaceId: string; workspaceName: string; inviterName: string }, token: string): Promise<void> {
  const brand = await s.branding.get(trx);
  const body = renderMail({
    brand,
    greeting: 'Hello,',
    paragraphs: [
      `${inv.inviterName} invited you to the ${inv.workspaceName} workspace on ${possessive(brand.firmName)} client portal, as ${ROLE_LABELS[inv.role].toLowerCase()}.`,
      'Open the link to accept. You will choose your name and a password, or sign in if you already have an account.',
    ],
    action: { label: 'Accept the invitation', url: inviteUrl(s.config, token) },
    after: ['The link works for 7 days and only once. If you did not expect this invitation, ignore this message.'],
    signature: brand.firmName,
  });
  await s.mail.enqueue(trx, { to: inv.email, subject: `You are invited to ${inv.workspaceName}`, text: body.text, html: body.html, workspaceId: inv.workspaceId });
}

/**
 * Why `email` cannot be invited to this workspace, as a sentence for beside the email field, or
 * null. Someone already in the workspace, or someone at the firm (staff join a client's workspace
 * when an administrator assigns them, never by invitation), would get a mail whose link then
 * refuses them: say so now, send nothing.
 */
export async function inviteRefusal(db: Db | Trx, workspaceId: string, email: string): Promise<string | null> {
  const user = (await db('users').where({ email: email.trim().toLowerCase() }).first('id', 'firm_role')) as { id: string; firm_role: string | null } | undefined;
  if (!user) return null;
  if (user.firm_role) return `${email} belongs to someone at the firm. Firm staff are assigned to a workspace by an administrator, not invited.`;
  if (await db('memberships').where({ workspace_id: workspaceId, user_id: user.id }).first('id')) return `${email} is already a member of this workspace.`;
  return null;
}

/**
 * Invite `email` to a workspace with `role`, or renew the pending invitation for that address
 * (new token, new 7 days). The caller has checked the inviter may hand out `role`. Refused
 * (ATR_VALIDATION, 400, `details.field = 'email'`) for a member or firm staff: see inviteRefusal.
 */
export async function invite(
  s: S,
  trx: Trx,
  input: { workspace: { id: string; name: string }; email: string; role: ClientRole; inviter: { id: string; name: string } },
  actor: Actor,
): Promise<string> {
  const refusal = await inviteRefusal(trx, input.workspace.id, input.email);
  if (refusal) throw new AtriumError('ATR_VALIDATION', refusal, { status: 400, details: { field: 'email' } });
  const now = s.clock.now();
  const token = newToken();
  const pending = (await trx('invitations')
    .where({ workspace_id: input.workspace.id, email: input.email })
    .whereNull('accepted_at')
    .whereNull('revoked_at')
    .andWhere('expires_at', '>', now)
    .first('id', 'send_count')) as { id: string; send_count: number } | undefined;
  let id: string;
  if (pending) {
    id = pending.id;
    await trx('invitations')
      .where({ id })
      .update({ token_hash: sha256Hex(token), role: input.role, invited_by: input.inviter.id, expires_at: now + INVITE_TTL_MS, last_sent_at: now, send_count: Number(pending.send_count) + 1 });
  } else {
    id = newId();
    await trx('invitations').insert({
      id,
      token_hash: sha256Hex(token),
      workspace_id: input.workspace.id,
      email: input.email,
      role: input.role,
      invited_by: input.inviter.id,
      created_at: now,
      expires_at: now + INVITE_TTL_MS,
      last_sent_at: now,
      send_count: 1,
    });
  }
  await s.audit.record(trx, { ...actor, action: 'core.invitation.create', subjectType: 'Invitation', subjectId: id, workspaceId: input.workspace.id, detail: { role: input.role, renewed: Boolean(pending) } });
  await sendInvite(s, trx, { email: input.email, role: input.role, workspaceId: input.workspace.id, workspaceName: input.workspace.name, inviterName: input.inviter.name }, token);
  s.events.publish(trx, 'core.invitation.created', { invitationId: id, workspaceId: input.workspace.id, role: input.role });
  return id;
}

/** A pending invitation of this workspace (anything else: 404). */
export async function pendingInvitation(db: Db | Trx, workspaceId: string, id: string, now: number): Promise<InvitationRow> {
  const row = (await db('invitations').where({ id, workspace_id: workspaceId }).whereNull('accepted_at').whereNull('revoked_at').andWhere('expires_at', '>', now).first()) as
    | InvitationRow
    | undefined;
  if (!row) throw new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });
  return row;
}

export async function resend(s: S, trx: Trx, input: { workspace: { id: string; name: string }; id: string; inviter: { id: string; name: string } }, actor: Actor): Promise<void> {
  const row = await pendingInvitation(trx, input.workspace.id, input.id, s.clock.now());
  await invite(s, trx, { workspace: input.workspace, email: row.email, role: row.role, inviter: input.inviter }, actor);
}

export async function revoke(s: S, trx: Trx, input: { workspaceId: string; id: string }, actor: Actor): Promise<void> {
  const row = await pendingInvitation(trx, input.workspaceId, input.id, s.clock.now());
  await trx('invitations').where({ id: row.id }).update({ revoked_at: s.clock.now() });
  await s.audit.record(trx, { ...actor, action: 'core.invitation.revoke', subjectType: 'Invitation', subjectId: row.id, workspaceId: input.workspaceId, detail: { role: row.role } });
  s.events.publish(trx, 'core.invitation.revoked', { invitationId: row.id, workspaceId: input.workspaceId });
}

export interface InvitationView {
  id: string;
  email: string;
  role: ClientRole;
  workspace: { id: string; slug: string; name: string };
}

/** Resolve a token from a link: the invitation if it can still be accepted, else null (410). */
export async function byToken(db: Db | Trx, token: string, now: number): Promise<InvitationView | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const row = (await db('invitations as i')
    .join('workspaces as w', 'w.id', 'i.workspace_id')
    .where('i.token_hash', sha256Hex(token))
    .whereNull('i.accepted_at')
    .whereNull('i.revoked_at')
    .andWhere('i.expires_at', '>', now)
    .andWhere('w.archived', false)
    .first('i.id', 'i.email', 'i.role', 'w.id as ws_id', 'w.slug as ws_slug', 'w.name as ws_name')) as Record<string, string> | undefined;
  if (!row) return null;
  return { id: row.id!, email: row.email!, role: row.role as ClientRole, workspace: { id: row.ws_id!, slug: row.ws_slug!, name: row.ws_name! } };
}

/**
 * For a link that can no longer be accepted: the workspace it led to, if `userId` is already in it
 * (they accepted this invitation, or are a member anyway), so the link can take them there instead
 * of saying it no longer works. Null for anyone else, and for an archived workspace.
 */
export async function joinedThrough(db: Db | Trx, token: string, userId: string): Promise<{ slug: string; name: string } | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const row = (await db('invitations as i')
    .join('workspaces as w', 'w.id', 'i.workspace_id')
    .where('i.token_hash', sha256Hex(token))
    .andWhere('w.archived', false)
    .andWhere((q) => q.where('i.accepted_by', userId).orWhereExists(db('memberships as m').whereRaw('m.workspace_id = w.id').andWhere('m.user_id', userId).select('m.id')))
    .first('w.slug', 'w.name')) as { slug: string; name: string } | undefined;
  return row ? { slug: String(row.slug), name: String(row.name) } : null;
}

/**
 * Accept: spend the token (exactly once, even under concurrency), create the account if needed,
 * and add the membership with the role stored on the invitation.
 */
export async function accept(
  s: S & Pick<Services, 'db'>,
  trx: Trx,
  input: { token: string; existingUserId?: string; newUser?: { name: string; passwordHash: string } },
  actor: Actor,
): Promise<{ userId: string; invitation: InvitationView }> {
  const now = s.clock.now();
  const inv = await byToken(trx, input.token, now);
  if (!inv) throw new AtriumError('ATR_TOKEN_INVALID', undefined, { status: 410 });
  const spent = await trx('invitations').where({ id: inv.id }).whereNull('accepted_at').whereNull('revoked_at').update({ accepted_at: now });
  if (spent !== 1) throw new AtriumError('ATR_TOKEN_INVALID', undefined, { status: 410 });
  let userId = input.existingUserId;
  if (!userId) {
    if (!input.newUser) throw new AtriumError('ATR_VALIDATION', 'name and password are needed', { status: 400 });
    const user = await createUser(s as Services, trx, { email: inv.email, name: input.newUser.name, passwordHash: input.newUser.passwordHash, firmRole: null }, { ...actor, via: 'web' });
    userId = user.id;
  }
  await trx('invitations').where({ id: inv.id }).update({ accepted_by: userId });
  const member = await trx('memberships').where({ workspace_id: inv.workspace.id, user_id: userId }).first('id');
  if (!member) await addMember(s as Services, trx, { workspaceId: inv.workspace.id, userId, role: inv.role }, { ...actor, actorId: userId });
  await s.audit.record(trx, { ...actor, actorId: userId, action: 'core.invitation.accept', subjectType: 'Invitation', subjectId: inv.id, workspaceId: inv.workspace.id, detail: { role: inv.role, alreadyMember: Boolean(member) } });
  s.events.publish(trx, 'core.invitation.accepted', { invitationId: inv.id, workspaceId: inv.workspace.id, userId, role: inv.role });
  return { userId, invitation: inv };
}
