// Admin console, people and sign-in security: the list of people, one person's memberships and
// status, disabling an account, removing a membership and resetting someone's MFA (each ends the
// person's sessions and is audited; an MFA reset is also mailed to them), and the policies
// "require MFA for staff" (settings table) and "require MFA for this workspace's clients"
// (the workspace's `settings` JSON). Mounted after the /admin area guard.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { parseJson, toBool, transaction } from '../../db/index.ts';
import { AtriumError } from '../../errors.ts';
import { adminResetMfa, removeMembership, setDisabled } from '../../identity/people.ts';
import { SECURITY_SETTING, workspaceRequiresMfa } from '../../identity/mfa.ts';
import { setSetting } from '../../settings.ts';
import { singleLine } from '../../text.ts';
import { formBody, fieldErrors } from '../forms.ts';
import { membershipRoleName, roleName } from '../../wording.ts';
import { NO_PASSWORD } from '../../identity/staff.ts';
import { requireRecentAuth } from '../security.ts';
import { staffControls } from './admin-staff.ts';
import type { HttpDeps } from '../deps.ts';

const PAGE_SIZE = 50;
const listQuery = z.object({
  page: z.coerce.number().int().min(1).max(100000).catch(1),
  q: singleLine({ max: 200 }).catch(''),
});
const staffPolicyForm = z.strictObject({ requireMfaStaff: z.enum(['yes', 'no']) });
const workspacePolicyForm = z.strictObject({ requireMfa: z.enum(['yes', 'no']) });

const notFound = () => new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });
const forbidden = () => new AtriumError('ATR_FORBIDDEN', undefined, { status: 403 });

/** A person as the admin pages show them, built field by field (never a spread row). */
function personView(u: Record<string, unknown>) {
  return {
    id: String(u.id),
    name: String(u.name),
    email: String(u.email),
    role: roleName(u.firm_role as string | null), // in words: "Firm admin", "Client
    disabled: toBool(u.disabled),
    mfa: u.mfa_enabled_at != null,
    lastLoginAt: u.last_login_at == null ? null : Number(u.last_login_at),
    // Added as a colleague and has not chosen a password yet (core/identity/staff.ts).
    invited: u.password_hash === NO_PASSWORD,
  };
}

export function adminPeopleRoutes(deps: HttpDeps): Router {
  const r = Router();

  r.get('/admin/people', async (req, _res, next) => {
    if (!req.ctx.ability.can('read', 'Person')) return next(notFound());
    const { page, q } = listQuery.parse(req.query);
    const base = () => {
      const query = deps.db('users');
      if (q) {
        const like = `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        query.where((w) => w.whereRaw("lower(name) like ? escape '\\'", [like]).orWhereRaw("email like ? escape '\\'", [like]));
      }
      return query;
    };
    const total = Number(((await base().count({ n: '*' }).first()) as { n: number | string }).n);
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const current = Math.min(page, pages);
    const rows = (await base()
      .orderBy('name')
      .limit(PAGE_SIZE)
      .offset((current - 1) * PAGE_SIZE)
      .select('id', 'name', 'email', 'firm_role', 'disabled', 'mfa_enabled_at', 'last_login_at', 'password_hash')) as Array<Record<string, unknown>>;
    const qs = (p: number) => `/admin/people?page=${p}${q ? `&q=${encodeURIComponent(q)}` : ''}`;
    await req.ctx.render(
      'core/admin-people',
      {
        people: rows.map(personView),
        canAdd: req.ctx.ability.can('create', 'Person'),
        q,
        total,
        page: current,
        pages,
        prevHref: current > 1 ? qs(current - 1) : null,
        nextHref: current < pages ? qs(current + 1) : null,
      },
      { title: 'People' },
    );
  });

  const personPage = async (req: Request, id: string, extra: object = {}, status = 200) => {
    const u = (await deps.db('users').where({ id }).first('id', 'name', 'email', 'firm_role', 'disabled', 'mfa_enabled_at', 'created_at', 'last_login_at', 'password_hash')) as Record<string, unknown> | undefined;
    if (!u) throw notFound();
    const memberships = (await deps.db('memberships as m')
      .join('workspaces as w', 'w.id', 'm.workspace_id')
      .where('m.user_id', id)
      .orderBy('w.name')
      .select('m.id', 'm.role', 'w.name', 'w.slug')) as Array<Record<string, unknown>>;
    // Custom workspace roles by their names; built-in ones in words (core/wording.ts).
    const custom = Object.fromEntries(((await deps.db('roles').select('key', 'name')) as Array<{ key: string; name: string }>).map((c) => [c.key, c.name]));
    const self = req.ctx.user!.id === id;
    const isOwner = u.firm_role === 'owner';
    // Only an owner may act on an owner; nobody disables themselves here.
    const mayAct = !self && (!isOwner || req.ctx.user!.firmRole === 'owner');
    await req.ctx.render(
      'core/admin-person',
      {
        person: { ...personView(u), createdAt: Number(u.created_at) },
        memberships: memberships.map((m) => ({ id: String(m.id), role: membershipRoleName(String(m.role), custom), workspace: String(m.name), slug: String(m.slug) })),
        canDisable: mayAct && req.ctx.ability.can('disable', 'Person'),
        canResetMfa: mayAct && req.ctx.ability.can('update', 'Person'),
        canRemove: req.ctx.ability.can('delete', 'Member') && (!isOwner || req.ctx.user!.firmRole === 'owner'),
        ...(await staffControls(deps, req, { id: String(u.id), firm_role: (u.firm_role as string | null) ?? null })),
        ...extra,
      },
      { title: String(u.name), status },
    );
  };

  r.get('/admin/people/:id', async (req, _res, next) => {
    if (!req.ctx.ability.can('read', 'Person')) return next(notFound());
    await personPage(req, String(req.params.id));
  });

  /** The person, after the checks every action shares. */
  const target = async (req: Request, action: 'disable' | 'update') => {
    if (!req.ctx.ability.can('read', 'Person')) throw notFound();
    const u = (await deps.db('users').where({ id: String(req.params.id) }).first('id', 'firm_role')) as { id: string; firm_role: string | null } | undefined;
    if (!u) throw notFound();
    if (!req.ctx.ability.can(action, 'Person')) throw forbidden();
    if (u.id === req.ctx.user!.id) throw forbidden();
    if (u.firm_role === 'owner' && req.ctx.user!.firmRole !== 'owner') throw forbidden();
    return u;
  };

  // Disabling and enabling an account need a recent password or code, like a role change.
  const fresh = requireRecentAuth(deps);
  for (const [path, disabled] of [['disable', true], ['enable', false]] as const) {
    r.post(`/admin/people/:id/${path}`, fresh, async (req, res) => {
      const u = await target(req, 'disable');
      await transaction(deps.db, (trx) => setDisabled(deps, trx, u.id, disabled, req.ctx.actor()));
      await req.ctx.flash('success', disabled ? 'Account disabled. Every session it had was signed out.' : 'Account enabled.');
      res.redirect(303, `/admin/people/${u.id}`);
    });
  }

  r.post('/admin/people/:id/mfa/reset', async (req, res) => {
    const u = await target(req, 'update');
    await transaction(deps.db, (trx) => adminResetMfa(deps, trx, u.id, req.ctx.actor()));
    await req.ctx.flash('success', 'Two-step sign-in was reset. The person was told by email and signed out everywhere.');
    res.redirect(303, `/admin/people/${u.id}`);
  });

  r.post('/admin/people/:id/memberships/:mid/remove', async (req, res, next) => {
    if (!req.ctx.ability.can('read', 'Person')) return next(notFound());
    if (!req.ctx.ability.can('delete', 'Member')) return next(forbidden());
    const m = (await deps.db('memberships as m').join('users as u', 'u.id', 'm.user_id').where({ 'm.id': String(req.params.mid), 'm.user_id': String(req.params.id) }).first('m.workspace_id', 'u.firm_role')) as
      | { workspace_id: string; firm_role: string | null }
      | undefined;
    if (!m) return next(notFound());
    if (m.firm_role === 'owner' && req.ctx.user!.firmRole !== 'owner') return next(forbidden());
    await transaction(deps.db, (trx) => removeMembership(deps, trx, { membershipId: String(req.params.mid), workspaceId: m.workspace_id }, req.ctx.actor()));
    await req.ctx.flash('success', 'Removed from the workspace. Their sessions were signed out.');
    res.redirect(303, `/admin/people/${String(req.params.id)}`);
  });

  // ---- policies

  const securityPage = async (req: Request, extra: object = {}, status = 200) => {
    const { page } = listQuery.parse(req.query);
    const total = Number(((await deps.db('workspaces').where({ archived: false }).count({ n: '*' }).first()) as { n: number | string }).n);
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const current = Math.min(page, pages);
    const rows = (await deps.db('workspaces').where({ archived: false }).orderBy('name').limit(PAGE_SIZE).offset((current - 1) * PAGE_SIZE).select('id', 'slug', 'name', 'settings')) as Array<Record<string, unknown>>;
    const settings = await deps.mfa.settings();
    await req.ctx.render(
      'core/admin-security',
      {
        requireMfaStaff: settings.requireMfaStaff,
        workspaces: rows.map((w) => ({ slug: String(w.slug), name: String(w.name), requireMfa: workspaceRequiresMfa(w.settings) })),
        page: current,
        pages,
        prev: current > 1 ? current - 1 : null,
        next: current < pages ? current + 1 : null,
        ...extra,
      },
      { title: 'Sign-in security', status },
    );
  };

  r.get('/admin/security', async (req, _res, next) => {
    if (!req.ctx.ability.can('update', 'Person')) return next(notFound());
    await securityPage(req);
  });

  r.post('/admin/security/staff', async (req, res, next) => {
    if (!req.ctx.ability.can('update', 'Person')) return next(notFound());
    const parsed = staffPolicyForm.safeParse(formBody(req.body));
    if (!parsed.success) return securityPage(req, { errors: fieldErrors(parsed.error) }, 400);
    const on = parsed.data.requireMfaStaff === 'yes';
    await transaction(deps.db, async (trx) => {
      const current = await deps.mfa.settings(trx);
      await setSetting(trx, SECURITY_SETTING, { ...current, requireMfaStaff: on }, deps.clock.now());
      await deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.security.update', subjectType: 'Settings', detail: { requireMfaStaff: on } });
      deps.events.publish(trx, 'core.settings.updated', { keys: [SECURITY_SETTING] });
    });
    await req.ctx.flash('success', on ? 'Staff must now use two-step sign-in; anyone without it sets it up at their next sign-in.' : 'Two-step sign-in is no longer required for staff.');
    res.redirect(303, '/admin/security');
  });

  r.post('/admin/security/workspaces/:slug', async (req, res, next) => {
    if (!req.ctx.ability.can('update', 'Person')) return next(notFound());
    const parsed = workspacePolicyForm.safeParse(formBody(req.body));
    if (!parsed.success) return securityPage(req, { errors: fieldErrors(parsed.error) }, 400);
    const on = parsed.data.requireMfa === 'yes';
    const name = await transaction(deps.db, async (trx) => {
      const ws = (await trx('workspaces').where({ slug: String(req.params.slug), archived: false }).first('id', 'name', 'settings')) as { id: string; name: string; settings: unknown } | undefined;
      if (!ws) throw notFound();
      // Other keys of the workspace's settings are kept as they are.
      const settings = { ...parseJson<Record<string, unknown>>(ws.settings, {}), requireMfa: on };
      await trx('workspaces').where({ id: ws.id }).update({ settings: JSON.stringify(settings) });
      await deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.workspace.mfa_policy', subjectType: 'Workspace', subjectId: ws.id, workspaceId: ws.id, detail: { requireMfa: on } });
      deps.events.publish(trx, 'core.settings.updated', { keys: [`workspace.${ws.id}.requireMfa`] });
      return ws.name;
    });
    await req.ctx.flash('success', on ? `Clients of ${name} must now use two-step sign-in.` : `Two-step sign-in is optional again for clients of ${name}.`);
    res.redirect(303, '/admin/security');
  });

  return r;
}
