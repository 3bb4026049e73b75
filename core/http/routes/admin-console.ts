// Admin console: client workspaces (list, rename, archive) and roles (each role's effective
// permissions, custom workspace roles made from the declared actions). Every change audited.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { transaction, toBool } from '../../db/index.ts';
import { AtriumError } from '../../errors.ts';
import { newId } from '../../ids.ts';
import { FIRM_ROLES, ROLES, type FirmRole, type WorkspaceRole } from '../../plugins/define.ts';
import { singleLine } from '../../text.ts';
import { fieldErrors, formBody } from '../forms.ts';
import { conditionsInWords, roleName } from '../../wording.ts';
import { teamSection } from './admin-staff.ts';
import type { HttpDeps } from '../deps.ts';

const PAGE = 25;
const notFound = () => new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });

const renameForm = z.strictObject({ name: singleLine({ max: 200, min: 1, required: 'Enter a name' }) });
const roleForm = z.strictObject({
  name: singleLine({ max: 80, min: 1, required: 'Name the role' }),
  permissions: z.union([z.string(), z.array(z.string())]).optional(), // not free text: permission keys, each matched against the catalogue
});

/** A rule's conditions in words ("client access is upload or manage"), never raw JSON. */
const describe = conditionsInWords;

export function adminConsoleRoutes(deps: HttpDeps): Router {
  const r = Router();

  // ---- workspaces

  r.get('/admin/workspaces', async (req, _res, next) => {
    if (!req.ctx.ability.can('read', 'Workspace')) return next(notFound());
    const page = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
    const total = Number(((await deps.db('workspaces').count({ n: '*' }).first()) as { n: number | string }).n);
    const rows = await deps.db('workspaces as w')
      .select('w.id', 'w.slug', 'w.name', 'w.archived', 'w.created_at')
      .select(deps.db('memberships as m').count('*').whereRaw('m.workspace_id = w.id').as('members'))
      .orderBy([{ column: 'w.archived', order: 'asc' }, { column: 'w.name', order: 'asc' }])
      .limit(PAGE)
      .offset((page - 1) * PAGE);
    const pages = Math.max(1, Math.ceil(total / PAGE));
    await req.ctx.render(
      'core/admin-workspaces',
      {
        workspaces: rows.map((w: Record<string, unknown>) => ({ id: w.id, slug: w.slug, name: w.name, archived: toBool(w.archived), members: Number(w.members), createdAt: w.created_at })),
        total,
        page,
        pages,
        prev: page > 1 ? page - 1 : null,
        next: page < pages ? page + 1 : null,
      },
      { title: 'Workspaces' },
    );
  });

  const loadWorkspace = async (req: Request) => {
    const row = await deps.db('workspaces').where({ id: String(req.params.id) }).first('id', 'slug', 'name', 'archived');
    return row ? { id: String(row.id), slug: String(row.slug), name: String(row.name), archived: toBool(row.archived) } : undefined;
  };

  r.get('/admin/workspaces/:id', async (req, _res, next) => {
    if (!req.ctx.ability.can('update', 'Workspace')) return next(notFound());
    const ws = await loadWorkspace(req);
    if (!ws) return next(notFound());
    await req.ctx.render('core/admin-workspace', { ws, values: { name: ws.name }, ...(await teamSection(deps, req, ws.id)) }, { title: ws.name });
  });

  r.post('/admin/workspaces/:id', async (req, res, next) => {
    if (!req.ctx.ability.can('update', 'Workspace')) return next(notFound());
    const ws = await loadWorkspace(req);
    if (!ws) return next(notFound());
    const parsed = renameForm.safeParse(formBody(req.body));
    if (!parsed.success) return req.ctx.render('core/admin-workspace', { ws, values: formBody(req.body), errors: fieldErrors(parsed.error), ...(await teamSection(deps, req, ws.id)) }, { title: ws.name, status: 400 });
    await transaction(deps.db, async (trx) => {
      await trx('workspaces').where({ id: ws.id }).update({ name: parsed.data.name });
      await deps.audit.record(trx, { ...req.ctx.actor(), action: 'core.workspace.rename', subjectType: 'Workspace', subjectId: ws.id, workspaceId: ws.id, detail: { from: ws.name, to: parsed.data.name } });
    });
    await req.ctx.flash('success', `Renamed to “${parsed.data.name}”.`);
    res.redirect(303, `/admin/workspaces/${ws.id}`);
  });

  for (const [path, archived, verb] of [
    ['archive', true, 'archive'],
    ['unarchive', false, 'unarchive'],
  ] as const) {
    r.post(`/admin/workspaces/:id/${path}`, async (req, res, next) => {
      if (!req.ctx.ability.can('archive', 'Workspace')) return next(notFound());
      const ws = await loadWorkspace(req);
      if (!ws) return next(notFound());
      await transaction(deps.db, async (trx) => {
        await trx('workspaces').where({ id: ws.id }).update({ archived });
        await deps.audit.record(trx, { ...req.ctx.actor(), action: `core.workspace.${verb}`, subjectType: 'Workspace', subjectId: ws.id, workspaceId: ws.id });
      });
      await req.ctx.flash('success', archived ? `“${ws.name}” is archived: its people can no longer open it.` : `“${ws.name}” is open again.`);
      res.redirect(303, `/admin/workspaces/${ws.id}`);
    });
  }

  // ---- roles and permissions

  r.get('/admin/roles', async (req, _res, next) => {
    if (!req.ctx.ability.can('read', 'Role')) return next(notFound());
    const { permissions } = deps;
    const subjects = permissions.listSubjects();
    const roles: Array<{ key: string; name: string; custom: boolean; ability: ReturnType<typeof permissions.abilityFor> }> = ROLES.map((role) => {
      const firm = (FIRM_ROLES as readonly string[]).includes(role) ? (role as FirmRole) : null;
      return { key: role, name: roleName(role), custom: false, ability: permissions.abilityFor(firm, firm ? null : (role as WorkspaceRole)) };
    });
    const customRows = await deps.db('roles').orderBy('name').select('id', 'key', 'name');
    for (const c of customRows) roles.push({ key: String(c.key), name: String(c.name), custom: true, ability: permissions.abilityFor(null, String(c.key)) });
    const customIds = new Map(customRows.map((c: { key: string; id: string }) => [c.key, c.id]));
    const matrix = roles.map((role) => ({
      key: role.key,
      name: role.name,
      custom: role.custom,
      id: customIds.get(role.key),
      subjects: subjects.map((s) => ({
        subject: s.subject,
        owner: s.owner,
        actions: s.actions
          .filter((a) => a !== 'manage')
          .map((action) => {
            const rules = role.ability.rulesFor(action, s.subject).filter((x) => !x.inverted && !x.fields);
            if (rules.some((x) => !x.conditions)) return { action, state: 'yes', label: 'Yes' };
            if (rules.length) return { action, state: 'conditional', label: `When ${rules.map((x) => describe(x.conditions)).join(', or ')}` };
            return { action, state: 'no', label: 'No' };
          }),
      })),
    }));
    await req.ctx.render('core/admin-roles', { roles: matrix, canCreate: req.ctx.ability.can('create', 'Role') }, { title: 'Roles and permissions' });
  });

  const roleFormModel = (values: { name?: string; selected?: string[] }) => ({
    values: { name: values.name ?? '' },
    grantable: deps.permissions.grantableToClients().map((g) => ({
      value: `${g.action} ${g.subject}`,
      label: `${g.action} ${g.subject}`,
      conditional: g.rules.every((x) => x.conditions) ? `when ${g.rules.map((x) => describe(x.conditions)).join(', or ')}` : '',
      checked: (values.selected ?? []).includes(`${g.action} ${g.subject}`),
    })),
  });

  const saveRole = async (req: Request, existing?: { id: string; key: string; name: string }) => {
    const body = formBody(req.body);
    const parsed = roleForm.safeParse(body);
    const selected = parsed.success ? ([] as string[]).concat(parsed.data.permissions ?? []) : [];
    const allowed = new Set(deps.permissions.grantableToClients().map((g) => `${g.action} ${g.subject}`));
    const errors = parsed.success ? {} : fieldErrors(parsed.error);
    if (selected.some((p) => !allowed.has(p))) errors.permissions = 'One of the permissions is not one a client role can hold';
    if (parsed.success && selected.length === 0) errors.permissions = 'Choose at least one permission';
    const key = existing?.key ?? `custom-${(parsed.success ? parsed.data.name : 'role').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 30) || 'role'}`;
    if (!existing && parsed.success && (await deps.db('roles').where({ key }).first('id'))) errors.name = 'A role with this name exists';
    if (!parsed.success || Object.keys(errors).length) return { errors, values: { name: String(body.name ?? ''), selected } };
    const pairs = selected.map((p) => p.split(' ') as [string, string]);
    const now = deps.clock.now();
    const id = existing?.id ?? newId();
    await transaction(deps.db, async (trx) => {
      if (existing) await trx('roles').where({ id }).update({ name: parsed.data.name, permissions: JSON.stringify(pairs), updated_at: now });
      else await trx('roles').insert({ id, key, name: parsed.data.name, permissions: JSON.stringify(pairs), created_at: now, updated_at: now });
      await deps.audit.record(trx, { ...req.ctx.actor(), action: existing ? 'core.role.update' : 'core.role.create', subjectType: 'Role', subjectId: id, detail: { key, permissions: selected } });
    });
    deps.permissions.invalidateCustomRoles();
    return { id };
  };

  r.get('/admin/roles/new', async (req, _res, next) => {
    if (!req.ctx.ability.can('create', 'Role')) return next(notFound());
    await req.ctx.render('core/admin-role', { ...roleFormModel({}), action: '/admin/roles' }, { title: 'New role' });
  });

  r.post('/admin/roles', async (req, res, next) => {
    if (!req.ctx.ability.can('create', 'Role')) return next(notFound());
    const out = await saveRole(req);
    if ('errors' in out) return req.ctx.render('core/admin-role', { ...roleFormModel(out.values ?? {}), errors: out.errors, action: '/admin/roles' }, { title: 'New role', status: 400 });
    await req.ctx.flash('success', 'Role created. Give it to people with `atrium member:add --role <key>`.');
    res.redirect(303, '/admin/roles');
  });

  r.get('/admin/roles/:id', async (req, _res, next) => {
    if (!req.ctx.ability.can('update', 'Role')) return next(notFound());
    const role = await deps.db('roles').where({ id: String(req.params.id) }).first('id', 'key', 'name', 'permissions');
    if (!role) return next(notFound());
    const selected = (JSON.parse(String(role.permissions)) as Array<[string, string]>).map(([a, s]) => `${a} ${s}`);
    await req.ctx.render('core/admin-role', { ...roleFormModel({ name: String(role.name), selected }), key: role.key, action: `/admin/roles/${role.id}` }, { title: String(role.name) });
  });

  r.post('/admin/roles/:id', async (req, res, next) => {
    if (!req.ctx.ability.can('update', 'Role')) return next(notFound());
    const role = await deps.db('roles').where({ id: String(req.params.id) }).first('id', 'key', 'name');
    if (!role) return next(notFound());
    const out = await saveRole(req, { id: String(role.id), key: String(role.key), name: String(role.name) });
    if ('errors' in out) return req.ctx.render('core/admin-role', { ...roleFormModel(out.values ?? {}), key: role.key, errors: out.errors, action: `/admin/roles/${role.id}` }, { title: String(role.name), status: 400 });
    await req.ctx.flash('success', 'Role saved. It applies from each member’s next page.');
    res.redirect(303, '/admin/roles');
  });

  return r;
}
