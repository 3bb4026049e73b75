// People, workspaces and memberships: the kernel's write operations on them. Each writes its
// audit event in the caller's transaction and publishes its event after commit.
import { z } from 'zod';
import type { AuditEntry } from '../audit.ts';
import { toBool, type Trx } from '../db/index.ts';
import { newId } from '../ids.ts';
import { FIRM_ROLES, WORKSPACE_ROLES, type FirmRole, type WorkspaceRole } from '../plugins/define.ts';
import type { Services } from '../services.ts';
import { singleLine } from '../text.ts';

export type Actor = Pick<AuditEntry, 'actorId' | 'ip' | 'userAgent'> & { via?: 'web' | 'cli' | 'setup' | 'demo' };

export interface User {
  id: string;
  email: string;
  name: string;
  firmRole: FirmRole | null;
  disabled: boolean;
}

export interface Workspace {
  id: string;
  slug: string;
  name: string;
  archived: boolean;
}

export const emailSchema = z
  .string()
  .trim()
  .max(320, 'Use at most 320 characters')
  .pipe(z.email({ error: 'Enter a valid email address' }))
  .transform((e) => e.toLowerCase());
export const nameSchema = singleLine({ max: 200, min: 1, required: 'Enter a name' });
export const firmRoleSchema = z.enum(FIRM_ROLES, { error: `Role must be one of ${FIRM_ROLES.join(', ')}` });
export const workspaceRoleSchema = z.enum(WORKSPACE_ROLES, { error: `Role must be one of ${WORKSPACE_ROLES.join(', ')}` });
export const slugSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'Use lowercase letters, digits and single dashes')
  .max(48, 'Use at most 48 characters');

export function toUser(row: Record<string, unknown>): User {
  return {
    id: String(row.id),
    email: String(row.email),
    name: String(row.name),
    firmRole: (row.firm_role as FirmRole | null) ?? null,
    disabled: toBool(row.disabled),
  };
}

export function toWorkspace(row: Record<string, unknown>): Workspace {
  return { id: String(row.id), slug: String(row.slug), name: String(row.name), archived: toBool(row.archived) };
}

export class DuplicateError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

export async function findUserByEmail(trx: Trx | Services['db'], email: string): Promise<(User & { passwordHash: string }) | undefined> {
  const row = await trx('users').where({ email: email.trim().toLowerCase() }).first();
  return row ? { ...toUser(row), passwordHash: String(row.password_hash) } : undefined;
}

export async function createUser(
  s: Services,
  trx: Trx,
  input: { email: string; name: string; passwordHash: string; firmRole: FirmRole | null },
  actor: Actor,
): Promise<User> {
  if (await trx('users').where({ email: input.email }).first('id')) throw new DuplicateError('email', 'Someone with this email already has an account');
  const row = {
    id: newId(),
    email: input.email,
    name: input.name,
    password_hash: input.passwordHash,
    firm_role: input.firmRole,
    disabled: false,
    created_at: s.clock.now(),
  };
  await trx('users').insert(row);
  await s.audit.record(trx, {
    ...actor,
    action: 'core.user.create',
    subjectType: 'User',
    subjectId: row.id,
    detail: { firmRole: input.firmRole, via: actor.via ?? 'web' },
  });
  s.events.publish(trx, 'core.user.created', { userId: row.id });
  return toUser(row);
}

export function slugify(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return s || 'workspace';
}

export async function createWorkspace(s: Services, trx: Trx, input: { name: string; slug?: string }, actor: Actor): Promise<Workspace> {
  let slug = input.slug;
  if (slug) {
    if (await trx('workspaces').where({ slug }).first('id')) throw new DuplicateError('slug', `The address "${slug}" is taken by another workspace`);
  } else {
    const base = slugify(input.name);
    slug = base;
    for (let n = 2; await trx('workspaces').where({ slug }).first('id'); n++) slug = `${base}-${n}`;
  }
  const row = { id: newId(), slug, name: input.name, settings: '{}', archived: false, created_at: s.clock.now() };
  await trx('workspaces').insert(row);
  await s.audit.record(trx, { ...actor, action: 'core.workspace.create', subjectType: 'Workspace', subjectId: row.id, workspaceId: row.id, detail: { slug, via: actor.via ?? 'web' } });
  s.events.publish(trx, 'core.workspace.created', { workspaceId: row.id });
  return toWorkspace(row);
}

export async function addMember(s: Services, trx: Trx, input: { workspaceId: string; userId: string; role: WorkspaceRole }, actor: Actor): Promise<void> {
  const existing = await trx('memberships').where({ workspace_id: input.workspaceId, user_id: input.userId }).first('id');
  if (existing) throw new DuplicateError('email', 'This person is already a member of the workspace');
  const id = newId();
  await trx('memberships').insert({ id, workspace_id: input.workspaceId, user_id: input.userId, role: input.role, created_at: s.clock.now() });
  await s.audit.record(trx, {
    ...actor,
    action: 'core.membership.create',
    subjectType: 'Membership',
    subjectId: id,
    workspaceId: input.workspaceId,
    detail: { userId: input.userId, role: input.role, via: actor.via ?? 'web' },
  });
  s.events.publish(trx, 'core.membership.created', { workspaceId: input.workspaceId, userId: input.userId, role: input.role });
}

/** Workspaces a user can open: all (not archived) for owners and admins, else their memberships. */
export function workspacesQuery(db: Services['db'], user: Pick<User, 'id' | 'firmRole'>) {
  if (user.firmRole === 'owner' || user.firmRole === 'admin') return db('workspaces as w').where('w.archived', false);
  // Everyone else: from the person's own memberships (one row per workspace: memberships are
  // unique per user and workspace), not a scan of every workspace with a correlated EXISTS.
  return db('memberships as m').join('workspaces as w', 'w.id', 'm.workspace_id').where('m.user_id', user.id).andWhere('w.archived', false);
}

export async function workspacesFor(db: Services['db'], user: Pick<User, 'id' | 'firmRole'>, opts: { limit?: number; offset?: number } = {}): Promise<Workspace[]> {
  const rows = await workspacesQuery(db, user)
    .select('w.id', 'w.slug', 'w.name', 'w.archived')
    .orderBy('w.name')
    .limit(opts.limit ?? 500)
    .offset(opts.offset ?? 0);
  return rows.map(toWorkspace);
}

export interface Member {
  userId: string;
  name: string;
  email: string;
  role: WorkspaceRole;
}

/** The people of one workspace: its account team (`staff`) or its client users. */
export async function membersOf(db: Services['db'], workspaceId: string, opts: { staff: boolean; limit?: number; offset?: number }): Promise<Member[]> {
  const q = db('memberships as m')
    .join('users as u', 'u.id', 'm.user_id')
    .where('m.workspace_id', workspaceId)
    .andWhere('u.disabled', false)
    .select('u.id', 'u.name', 'u.email', 'm.role')
    .orderBy('u.name')
    .limit(opts.limit ?? 100)
    .offset(opts.offset ?? 0);
  if (opts.staff) q.andWhere('m.role', 'staff');
  else q.andWhereNot('m.role', 'staff');
  const rows = (await q) as Array<Record<string, unknown>>;
  // Built field by field: this list is shown to clients.
  return rows.map((r) => ({ userId: String(r.id), name: String(r.name), email: String(r.email), role: r.role as WorkspaceRole }));
}
