// Admin console, firm staff: add a colleague (an account and a "choose your password" link), send
// that link again, change a firm role, and put firm people on a client workspace's account team
// or take them off it. Granting access (adding, changing a role) needs a password or code from the
// last 15 minutes, as account changes do (SECURITY.md control 5); every change is audited in its
// transaction (core/identity/staff.ts). Mounted after the /admin area guard, before
// admin-people.ts (so /admin/people/new is not read as a person's id).
import { Router, type Request } from 'express';
import { z } from 'zod';
import { transaction } from '../../db/index.ts';
import { AtriumError } from '../../errors.ts';
import { FIRM_ROLES, type FirmRole } from '../../plugins/define.ts';
import { emailSchema, nameSchema } from '../../identity/users.ts';
import { addColleague, assignStaff, awaitingPassword, grantableFirmRoles, resendWelcome, setFirmRole, unassignStaff, workspaceTeam } from '../../identity/staff.ts';
import { roleName } from '../../wording.ts';
import { fieldErrors, formBody } from '../forms.ts';
import { recentlyAuthenticated, requireRecentAuth } from '../security.ts';
import type { HttpDeps } from '../deps.ts';

const colleagueForm = z.strictObject({
  name: nameSchema,
  email: emailSchema,
  role: z.enum(FIRM_ROLES, { error: 'Choose a role' }),
});
const roleForm = z.strictObject({ role: z.enum(FIRM_ROLES, { error: 'Choose a role' }) });
const assignForm = z.strictObject({
  userId: z.string().regex(/^[0-9a-f-]{36}$/, 'Choose someone at the firm'), // not free text: a person's id, looked up
});

const notFound = () => new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });
const forbidden = () => new AtriumError('ATR_FORBIDDEN', undefined, { status: 403 });

const roleOptions = (roles: FirmRole[], selected?: string) => roles.map((value) => ({ value, label: roleName(value), selected: value === selected }));

/** Where to confirm it is you before a change, coming back to `path`. */
const reauthHref = (path: string) => `/account/reauth?next=${encodeURIComponent(path)}`;

/**
 * The staff controls of a person's admin page (admin-people.ts): their role as a choice when the
 * viewer may change it, "has not chosen a password yet" with a resend, and whether the viewer must
 * confirm it is them first.
 */
export async function staffControls(deps: HttpDeps, req: Request, person: { id: string; firm_role: string | null }) {
  const me = req.ctx.user!;
  const grantable = grantableFirmRoles(me.firmRole);
  const firmRole = person.firm_role as FirmRole | null;
  const canChangeRole = Boolean(firmRole) && person.id !== me.id && grantable.includes(firmRole!) && req.ctx.ability.can('update', 'Person');
  const invited = Boolean(firmRole) && (await awaitingPassword(deps.db, person.id));
  return {
    isFirm: Boolean(firmRole),
    recent: recentlyAuthenticated(deps, req),
    reauthHref: reauthHref(`/admin/people/${person.id}`),
    canChangeRole,
    roleChoices: canChangeRole ? roleOptions(grantable, firmRole!) : [],
    invited,
    canResend: invited && req.ctx.ability.can('create', 'Person'),
  };
}

/** The account team section of a workspace's admin page (admin-console.ts). */
export async function teamSection(deps: HttpDeps, req: Request, workspaceId: string) {
  const { team, candidates } = await workspaceTeam(deps.db, workspaceId);
  return {
    team: team.map((t) => ({ ...t, roleLabel: roleName(t.role) })),
    candidates: candidates.map((c) => ({ ...c, label: `${c.name} (${roleName(c.role).toLowerCase()}, ${c.email})` })),
    canAssign: req.ctx.ability.can('create', 'Member'),
    canUnassign: req.ctx.ability.can('delete', 'Member'),
  };
}

export function adminStaffRoutes(deps: HttpDeps): Router {
  const r = Router();
  const fresh = requireRecentAuth(deps);

  // ---- add a colleague

  const newPage = async (req: Request, extra: { values?: Record<string, unknown>; errors?: Record<string, string> } = {}, status = 200) => {
    const roles = grantableFirmRoles(req.ctx.user!.firmRole);
    const values = extra.values ?? { role: 'staff' };
    await req.ctx.render('core/admin-person-new', { ...extra, values, roles: roleOptions(roles, String(values.role ?? 'staff')) }, { title: 'Add a colleague', status });
  };

  r.get('/admin/people/new', fresh, async (req, _res, next) => {
    if (!req.ctx.ability.can('create', 'Person')) return next(notFound());
    await newPage(req);
  });

  r.post('/admin/people', fresh, async (req, res, next) => {
    if (!req.ctx.ability.can('create', 'Person')) return next(notFound());
    const body = formBody(req.body);
    const parsed = colleagueForm.safeParse(body);
    if (!parsed.success) return newPage(req, { values: body, errors: fieldErrors(parsed.error) }, 400);
    const me = req.ctx.user!;
    let id: string;
    try {
      id = await transaction(deps.db, (trx) =>
        addColleague(deps, trx, { ...parsed.data, firmRole: parsed.data.role, inviter: { id: me.id, name: me.name, firmRole: me.firmRole } }, req.ctx.actor()),
      );
    } catch (err) {
      const field = err instanceof AtriumError && err.code === 'ATR_VALIDATION' ? String(err.details?.field ?? '_form') : undefined;
      if (field) return newPage(req, { values: body, errors: { [field]: err instanceof AtriumError ? (err.detail ?? '') : '' } }, 400);
      throw err;
    }
    await req.ctx.flash('success', `${parsed.data.name} was added as ${roleName(parsed.data.role).toLowerCase()}. We emailed ${parsed.data.email} a link to choose a password (it works for 7 days).`);
    res.redirect(303, `/admin/people/${id}`);
  });

  r.post('/admin/people/:id/welcome', async (req, res, next) => {
    if (!req.ctx.ability.can('read', 'Person')) return next(notFound());
    if (!req.ctx.ability.can('create', 'Person')) return next(forbidden());
    const id = String(req.params.id);
    await transaction(deps.db, (trx) => resendWelcome(deps, trx, id, req.ctx.user!.name, req.ctx.actor()));
    await req.ctx.flash('success', 'A new link was sent; the earlier one no longer works.');
    res.redirect(303, `/admin/people/${id}`);
  });

  // ---- a firm role

  r.post('/admin/people/:id/role', fresh, async (req, res, next) => {
    if (!req.ctx.ability.can('read', 'Person')) return next(notFound());
    const u = (await deps.db('users').where({ id: String(req.params.id) }).first('id', 'name', 'firm_role')) as { id: string; name: string; firm_role: FirmRole | null } | undefined;
    if (!u || !u.firm_role) return next(notFound());
    if (!req.ctx.ability.can('update', 'Person') || u.id === req.ctx.user!.id) return next(forbidden());
    const parsed = roleForm.safeParse(formBody(req.body));
    const allowed = grantableFirmRoles(req.ctx.user!.firmRole);
    if (!parsed.success || !allowed.includes(parsed.data.role) || !allowed.includes(u.firm_role)) {
      await req.ctx.flash('error', 'Only an owner can give or take away the owner role.');
      return res.redirect(303, `/admin/people/${u.id}`);
    }
    const changed = await transaction(deps.db, (trx) => setFirmRole(deps, trx, { userId: u.id, role: parsed.data.role, actorRole: req.ctx.user!.firmRole }, req.ctx.actor()));
    await req.ctx.flash('success', changed ? `${u.name} is now ${roleName(changed.to).toLowerCase()}. They were told by email.` : 'Nothing changed.');
    res.redirect(303, `/admin/people/${u.id}`);
  });

  // ---- a workspace's account team

  const loadWorkspace = async (req: Request) =>
    (await deps.db('workspaces').where({ id: String(req.params.id) }).first('id', 'name')) as { id: string; name: string } | undefined;

  r.post('/admin/workspaces/:id/team', async (req, res, next) => {
    if (!req.ctx.ability.can('update', 'Workspace')) return next(notFound());
    const ws = await loadWorkspace(req);
    if (!ws) return next(notFound());
    if (!req.ctx.ability.can('create', 'Member')) return next(forbidden());
    const parsed = assignForm.safeParse(formBody(req.body));
    let message: string | undefined = parsed.success ? undefined : 'Choose someone at the firm.';
    if (parsed.success) {
      try {
        await transaction(deps.db, (trx) => assignStaff(deps, trx, { workspaceId: ws.id, userId: parsed.data.userId }, req.ctx.actor()));
      } catch (err) {
        if (!(err instanceof AtriumError && err.code === 'ATR_VALIDATION')) throw err;
        message = `${err.detail ?? 'Not assigned'}.`;
      }
    }
    if (message) await req.ctx.flash('error', message);
    else {
      const who = (await deps.db('users').where({ id: parsed.data!.userId }).first('name')) as { name: string };
      await req.ctx.flash('success', `${who.name} is now on the account team of ${ws.name}.`);
    }
    res.redirect(303, `/admin/workspaces/${ws.id}#team`);
  });

  r.post('/admin/workspaces/:id/team/:mid/remove', async (req, res, next) => {
    if (!req.ctx.ability.can('update', 'Workspace')) return next(notFound());
    const ws = await loadWorkspace(req);
    if (!ws) return next(notFound());
    if (!req.ctx.ability.can('delete', 'Member')) return next(forbidden());
    await transaction(deps.db, (trx) => unassignStaff(deps, trx, { workspaceId: ws.id, membershipId: String(req.params.mid) }, req.ctx.actor()));
    await req.ctx.flash('success', `Taken off the account team of ${ws.name}. Their sessions were signed out.`);
    res.redirect(303, `/admin/workspaces/${ws.id}#team`);
  });

  return r;
}
