// Invitations (SECURITY.md controls 15, 16). In a workspace, people who may (`create
// Invitation`: owners, admins, and client admins for their own workspace, up to their own role)
// invite someone by email with a role, list pending invitations, resend and revoke them.
// The link `/invite/:token` shows a page; only its POST accepts. The accept form carries no
// workspace, email or role: those come from the invitation row, and any such field sent along is
// ignored. Requests are throttled (3 an hour per email, 20 per IP) with one uniform reply.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { transaction } from '../../db/index.ts';
import { AtriumError } from '../../errors.ts';
import { emailSchema, findUserByEmail, nameSchema, workspacesQuery } from '../../identity/users.ts';
import { accept, byToken, invitableRoles, invite, inviteRefusal, joinedThrough, resend, revoke, CLIENT_ROLES, ROLE_LABELS, type ClientRole } from '../../identity/invitations.ts';
import { accountKey, ipKey, LIMITS } from '../../identity/throttle.ts';
import { fieldErrors, formBody } from '../forms.ts';
import { beginSession } from '../security.ts';
import { newPasswordErrors } from './password.ts';
import type { HttpDeps } from '../deps.ts';

const PAGE_SIZE = 50;
const inviteForm = z.strictObject({
  email: emailSchema,
  role: z.enum(CLIENT_ROLES, { error: 'Choose a role' }),
});
const acceptForm = z.strictObject({
  name: nameSchema,
  password: z.string().max(4096), // not free text: a password, used exactly as typed
  confirm: z.string().max(4096), // not free text: the password again
});
const pageQuery = z.object({ page: z.coerce.number().int().min(1).max(100000).catch(1) });

/** Fields an attacker may add to bind the invitation differently: dropped before validation. */
const TAMPER_FIELDS = ['role', 'workspace', 'workspace_id', 'workspaceId', 'email', 'firmRole', 'firm_role'];

const notFound = () => new AtriumError('ATR_NOT_FOUND', undefined, { status: 404 });

/** `/invite/:token`: mounted with the public kernel pages. */
export function invitationAcceptRoutes(deps: HttpDeps): Router {
  const r = Router();

  const gone = async (req: Request, token: string) => {
    req.res!.setHeader('Referrer-Policy', 'no-referrer');
    // The person who joined through this link (or is in the workspace anyway) opening it again,
    // e.g. from the mail after signing up: take them to the workspace, not to "no longer works".
    const joined = req.ctx.user ? await joinedThrough(deps.db, token, req.ctx.user.id) : null;
    if (joined) {
      await req.ctx.flash('info', `You are already a member of ${joined.name}. Welcome back.`);
      return req.res!.redirect(303, `/w/${joined.slug}/`);
    }
    await req.ctx.render('core/link-gone', { what: 'invitation' }, { title: 'Invitation expired', status: 410, layout: 'auth' });
  };

  const page = async (req: Request, token: string, inv: NonNullable<Awaited<ReturnType<typeof byToken>>>, extra: object = {}, status = 200) => {
    req.res!.setHeader('Referrer-Policy', 'no-referrer');
    const user = req.ctx.user;
    const hasAccount = !user && Boolean(await findUserByEmail(deps.db, inv.email));
    await req.ctx.render(
      'core/invite-accept',
      {
        token,
        email: inv.email,
        workspaceName: inv.workspace.name,
        roleLabel: ROLE_LABELS[inv.role],
        signedIn: Boolean(user),
        sameUser: user?.email === inv.email,
        hasAccount,
        loginHref: `/login?next=${encodeURIComponent(`/invite/${token}`)}`,
        values: {},
        ...extra,
      },
      { title: `Join ${inv.workspace.name}`, status, layout: 'auth' },
    );
  };

  r.get('/invite/:token', async (req) => {
    const token = String(req.params.token);
    const inv = await byToken(deps.db, token, deps.clock.now());
    if (!inv) return gone(req, token);
    await page(req, token, inv, {}, req.ctx.user && req.ctx.user.email !== inv.email ? 403 : 200);
  });

  r.post('/invite/:token', async (req, res) => {
    res.setHeader('Referrer-Policy', 'no-referrer');
    const token = String(req.params.token);
    const inv = await byToken(deps.db, token, deps.clock.now());
    if (!inv) return gone(req, token);
    const body = formBody(req.body);
    for (const k of TAMPER_FIELDS) delete body[k];
    const user = req.ctx.user;
    if (user) {
      if (user.email !== inv.email) return page(req, token, inv, {}, 403);
      if (user.firmRole) return page(req, token, inv, { errors: { _form: 'Firm staff join a client workspace through an administrator, not an invitation.' } }, 409);
      try {
        await transaction(deps.db, (trx) => accept(deps, trx, { token, existingUserId: user.id }, req.ctx.actor()));
      } catch (err) {
        if (err instanceof AtriumError && err.code === 'ATR_TOKEN_INVALID') return gone(req, token);
        throw err;
      }
      await req.ctx.flash('success', `You joined ${inv.workspace.name}.`);
      return res.redirect(303, `/w/${inv.workspace.slug}/`);
    }
    if (await findUserByEmail(deps.db, inv.email)) return page(req, token, inv, { errors: { _form: 'You already have an account. Sign in first, then accept.' } }, 409);
    const parsed = acceptForm.safeParse(body);
    const errors = parsed.success ? {} : fieldErrors(parsed.error);
    Object.assign(errors, { ...newPasswordErrors({ password: body.password, confirm: body.confirm }, [String(body.name ?? ''), inv.email.split('@')[0]!, (await deps.branding.get()).firmName]), ...errors });
    if (!parsed.success || Object.keys(errors).length) return page(req, token, inv, { errors, values: { name: typeof body.name === 'string' ? body.name : '' } }, 400);
    const passwordHash = await deps.passwords.hash(parsed.data.password);
    let userId: string;
    try {
      ({ userId } = await transaction(deps.db, (trx) => accept(deps, trx, { token, newUser: { name: parsed.data.name, passwordHash } }, req.ctx.actor())));
    } catch (err) {
      if (err instanceof AtriumError && err.code === 'ATR_TOKEN_INVALID') return gone(req, token);
      throw err;
    }
    // The new account is signed in (with its second step first when the workspace requires one).
    const target = await beginSession(deps, req, res, { id: userId, firmRole: null }, `/w/${inv.workspace.slug}/`, { via: 'invitation' });
    res.redirect(303, target);
  });

  return r;
}

/** `/w/:workspace/invitations`: mounted after the workspace guard. */
export function invitationRoutes(deps: HttpDeps): Router {
  const r = Router();
  const base = (req: Request) => `/w/${req.ctx.workspace!.slug}/invitations`;
  const inviter = (req: Request) => ({ id: req.ctx.user!.id, name: req.ctx.user!.name });

  const list = async (req: Request, extra: object = {}, status = 200) => {
    const ws = req.ctx.workspace!;
    const { page } = pageQuery.parse(req.query);
    const now = deps.clock.now();
    const pendingQ = () => deps.db('invitations').where({ workspace_id: ws.id }).whereNull('accepted_at').whereNull('revoked_at').andWhere('expires_at', '>', now);
    const total = Number(((await pendingQ().count({ n: '*' }).first()) as { n: number | string }).n);
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const current = Math.min(page, pages);
    const rows = (await pendingQ()
      .leftJoin('users as u', 'u.id', 'invitations.invited_by')
      .orderBy('invitations.created_at', 'desc')
      .limit(PAGE_SIZE)
      .offset((current - 1) * PAGE_SIZE)
      .select('invitations.id', 'invitations.email', 'invitations.role', 'invitations.expires_at', 'invitations.last_sent_at', 'invitations.send_count', 'u.name as inviter')) as Array<Record<string, unknown>>;
    const roles = invitableRoles(req.ctx.user!.firmRole, req.ctx.workspaceRole);
    await req.ctx.render(
      'core/invitations',
      {
        base: base(req),
        // Built field by field: client admins see this list.
        invitations: rows.map((r) => ({
          id: String(r.id),
          email: String(r.email),
          roleLabel: ROLE_LABELS[r.role as ClientRole] ?? String(r.role),
          inviter: r.inviter ? String(r.inviter) : 'someone no longer here',
          expiresAt: Number(r.expires_at),
          lastSentAt: Number(r.last_sent_at),
          sends: Number(r.send_count),
        })),
        total,
        page: current,
        pages,
        prev: current > 1 ? current - 1 : null,
        next: current < pages ? current + 1 : null,
        canCreate: req.ctx.ability.can('create', 'Invitation') && roles.length > 0,
        canRevoke: req.ctx.ability.can('revoke', 'Invitation'),
        roles: roles.map((value) => ({ value, label: ROLE_LABELS[value] })),
        values: { role: roles.at(-1) },
        ...extra,
      },
      { title: 'Invitations', status },
    );
  };

  /** Uniform reply: the same message whether the mail went out or the request was throttled. */
  const throttledOrCount = async (req: Request, email: string): Promise<boolean> => {
    const keys = [`invite:email:${accountKey(email)}`, `invite:ip:${ipKey(req.ctx.ip)}`];
    if ((await deps.throttle.retryAfter(keys)) > 0) return true;
    await deps.throttle.hit(keys[0]!, LIMITS.requestEmail);
    await deps.throttle.hit(keys[1]!, LIMITS.requestIp);
    return false;
  };

  // Every pending invitation in the workspaces this staff member can open (all of them for owners
  // and admins), newest first: the firm's view of who has not joined yet. Resending and revoking
  // happen on each workspace's own page, under that workspace's rules.
  r.get('/staff/invitations', async (req, _res, next) => {
    if (!req.ctx.ability.can('read', 'Invitation')) return next(notFound());
    const { page } = pageQuery.parse(req.query);
    const now = deps.clock.now();
    const pending = deps.db('invitations as i')
      .whereIn('i.workspace_id', workspacesQuery(deps.db, req.ctx.user!).select('w.id'))
      .whereNull('i.accepted_at')
      .whereNull('i.revoked_at');
    const total = Number(((await pending.clone().count({ n: '*' }).first()) as { n: number | string }).n);
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const current = Math.min(page, pages);
    const rows = (await pending
      .join('workspaces as ws', 'ws.id', 'i.workspace_id')
      .orderBy('i.last_sent_at', 'desc')
      .orderBy('i.id', 'desc')
      .limit(PAGE_SIZE)
      .offset((current - 1) * PAGE_SIZE)
      .select('i.email', 'i.role', 'i.last_sent_at', 'i.expires_at', 'i.send_count', 'ws.slug', 'ws.name')) as Array<Record<string, unknown>>;
    await req.ctx.render(
      'core/staff-invitations',
      {
        invitations: rows.map((i) => ({
          email: String(i.email),
          role: ROLE_LABELS[i.role as ClientRole] ?? String(i.role),
          workspace: String(i.name),
          href: `/w/${String(i.slug)}/invitations`,
          sentAt: Number(i.last_sent_at),
          sends: Number(i.send_count),
          expiresAt: Number(i.expires_at),
          expired: Number(i.expires_at) <= now,
        })),
        total,
        page: current,
        pages,
        prev: current > 1 ? current - 1 : null,
        next: current < pages ? current + 1 : null,
      },
      { title: 'Pending invitations' },
    );
  });

  r.get('/w/:workspace/invitations', async (req, _res, next) => {
    if (!req.ctx.ability.can('read', 'Invitation')) return next(notFound());
    await list(req);
  });

  r.post('/w/:workspace/invitations', async (req, res, next) => {
    if (!req.ctx.ability.can('read', 'Invitation')) return next(notFound());
    if (!req.ctx.ability.can('create', 'Invitation')) return next(new AtriumError('ATR_FORBIDDEN', undefined, { status: 403 }));
    const body = formBody(req.body);
    const parsed = inviteForm.safeParse(body);
    const roles = invitableRoles(req.ctx.user!.firmRole, req.ctx.workspaceRole);
    if (!parsed.success) return list(req, { errors: fieldErrors(parsed.error), values: body }, 400);
    if (!roles.includes(parsed.data.role)) return list(req, { errors: { role: 'You cannot give a role higher than your own' }, values: body }, 400);
    const ws = req.ctx.workspace!;
    // A member, or someone at the firm, would get a link that refuses them: say so here instead.
    const refusal = await inviteRefusal(deps.db, ws.id, parsed.data.email);
    if (refusal) return list(req, { errors: { email: refusal }, values: body }, 400);
    if (!(await throttledOrCount(req, parsed.data.email))) {
      await transaction(deps.db, (trx) => invite(deps, trx, { workspace: ws, email: parsed.data.email, role: parsed.data.role, inviter: inviter(req) }, req.ctx.actor()));
    }
    await req.ctx.flash('success', `Invitation sent to ${parsed.data.email}.`);
    res.redirect(303, base(req));
  });

  r.post('/w/:workspace/invitations/:id/resend', async (req, res, next) => {
    if (!req.ctx.ability.can('read', 'Invitation')) return next(notFound());
    if (!req.ctx.ability.can('create', 'Invitation')) return next(new AtriumError('ATR_FORBIDDEN', undefined, { status: 403 }));
    const ws = req.ctx.workspace!;
    const row = (await deps.db('invitations').where({ id: String(req.params.id), workspace_id: ws.id }).first('email', 'role')) as { email: string; role: ClientRole } | undefined;
    if (!row) return next(notFound());
    if (!invitableRoles(req.ctx.user!.firmRole, req.ctx.workspaceRole).includes(row.role)) return next(new AtriumError('ATR_FORBIDDEN', undefined, { status: 403 }));
    const refusal = await inviteRefusal(deps.db, ws.id, row.email);
    if (refusal) {
      await req.ctx.flash('error', `Not sent again: ${refusal}`);
      return res.redirect(303, base(req));
    }
    if (!(await throttledOrCount(req, row.email))) {
      await transaction(deps.db, (trx) => resend(deps, trx, { workspace: ws, id: String(req.params.id), inviter: inviter(req) }, req.ctx.actor()));
    }
    await req.ctx.flash('success', `Invitation sent again to ${row.email}.`);
    res.redirect(303, base(req));
  });

  r.post('/w/:workspace/invitations/:id/revoke', async (req, res, next) => {
    if (!req.ctx.ability.can('read', 'Invitation')) return next(notFound());
    if (!req.ctx.ability.can('revoke', 'Invitation')) return next(new AtriumError('ATR_FORBIDDEN', undefined, { status: 403 }));
    await transaction(deps.db, (trx) => revoke(deps, trx, { workspaceId: req.ctx.workspace!.id, id: String(req.params.id) }, req.ctx.actor()));
    await req.ctx.flash('success', 'Invitation revoked. Its link no longer works.');
    res.redirect(303, base(req));
  });

  return r;
}
