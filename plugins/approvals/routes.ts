// The workspace pages of the approvals plugin, mounted at /w/:workspace/approvals: the list (with
// "awaiting my decision" first), a new request for any registered approvable subject, a request's
// page with its history and the document itself (its pages as images, read in place), and the
// decide and withdraw actions. Every read goes through the workspace scope (repo.ts); every change
// is one transaction with its audit event.
import type { NextFunction, Request, Response, Router } from 'express';
import { z } from 'zod';
import { authorize, documentView, fieldErrors, formBody, notFound, pageImageName, pageNumber, sendPageImage, transaction } from '../../core/index.ts';
import { createForm, decideForm, newQuery, orderApprovers } from './forms.ts';
import { detail, summary } from './models.ts';
import { awaitingUser, findRequest, seesAll, visibleRequests } from './repo.ts';
import { REQUEST_COLS, STATUSES, approversOf, awaiting, cancelRequest, createRequest, decide, endOfDay, normRequest, type ApprovalsDeps, type DecideResult, type RequestRow } from './service.ts';

const listQuery = z.object({
  status: z.enum(['all', ...STATUSES]).catch('all').default('all'),
  page: z.coerce.number().int().min(1).max(100_000).catch(1).default(1),
});

export const REFUSALS: Record<Exclude<DecideResult, { ok: true }>['reason'], string> = {
  closed: 'This request has already been closed, so no decision can be recorded.',
  stale: 'A newer version was uploaded while you were looking. Review the new version, then decide.',
  not_approver: 'You are not one of the approvers of this request.',
  already_decided: 'You have already answered this request. Decisions cannot be changed; ask the team for a new request if something is wrong.',
  not_your_turn: 'It is not your turn yet: this request goes to its approvers one after another.',
};

export function workspaceRoutes(workspace: Router, deps: ApprovalsDeps): void {
  const { db, approvables, settings } = deps;
  const base = (req: Request) => `/w/${req.ctx.workspace!.slug}/approvals`;
  const wsOf = (req: Request) => ({ id: req.ctx.workspace!.id, slug: req.ctx.workspace!.slug, name: req.ctx.workspace!.name });

  // ---- the list: what waits for me, then every request I may see

  workspace.get('/', authorize('read', 'Approval'), async (req) => {
    const q = listQuery.parse(req.query);
    const now = deps.clock.now();
    const mine = ((await awaitingUser(visibleRequests(req), req.ctx.user!.id).orderBy('r.created_at').limit(50).select(REQUEST_COLS.map((c) => `r.${c}`))) as Array<Record<string, unknown>>).map(normRequest);
    const all = visibleRequests(req).modify((b) => (q.status === 'all' ? b : b.where('r.status', q.status)));
    const total = Number(((await all.clone().count({ n: '*' }).first()) as { n: number | string }).n);
    const pages = Math.max(1, Math.ceil(total / settings.pageSize));
    const page = Math.min(q.page, pages);
    const rows = ((await all.orderBy('r.created_at', 'desc').orderBy('r.id', 'desc').limit(settings.pageSize).offset((page - 1) * settings.pageSize).select(REQUEST_COLS.map((c) => `r.${c}`))) as Array<Record<string, unknown>>).map(normRequest);
    const link = (p: number) => `${base(req)}/?${new URLSearchParams({ status: q.status, page: String(p) })}`;
    await req.ctx.render(
      'approvals/list',
      {
        awaiting: mine.map((r) => summary(r, `${base(req)}/r/${r.id}`, now)),
        requests: rows.map((r) => summary(r, `${base(req)}/r/${r.id}`, now)),
        total,
        page,
        pages,
        prev: page > 1 ? link(page - 1) : null,
        next: page < pages ? link(page + 1) : null,
        filterAction: `${base(req)}/`,
        statuses: [{ value: 'all', label: 'All' }, { value: 'pending', label: 'Waiting' }, { value: 'approved', label: 'Approved' }, { value: 'changes_requested', label: 'Changes requested' }, { value: 'cancelled', label: 'Withdrawn' }].map((s) => ({ ...s, selected: s.value === q.status })),
        filtered: q.status !== 'all',
        canCreate: seesAll(req),
      },
      { title: 'Approvals' },
    );
  });

  // ---- a new request, for any registered subject type (?type=files.version&subject=<id>)

  async function eligibleFor(req: Request, clientVisible: boolean) {
    const people = await approvables.peopleWhoCan(db, req.ctx.workspace!.id, 'decide', 'Approval');
    // An internal subject (staff only) can only be approved by the firm's own people.
    return people.filter((p) => clientVisible || p.staff);
  }

  async function newPage(req: Request, type: string, subjectId: string, extra: Record<string, unknown> = {}, status = 200): Promise<boolean> {
    const subject = await approvables.describe(req.ctx.scope!, type, subjectId);
    if (!subject) return false;
    const people = await eligibleFor(req, subject.clientVisible);
    const values = (extra.values as Record<string, unknown> | undefined) ?? { title: `Approve ${subject.title}`, sequence: 'parallel' };
    const chosen = new Set(([] as string[]).concat((values.approvers as string | string[] | undefined) ?? []));
    await req.ctx.render(
      'approvals/new',
      {
        subject: { type, id: subject.subjectId, title: subject.title, label: approvables.label(type), versionNumber: subject.versionNumber, sha256: subject.sha256, href: `/w/${req.ctx.workspace!.slug}${subject.path}`, internal: !subject.clientVisible },
        people: people.map((p, i) => ({ id: p.userId, name: p.name, email: p.email, staff: p.staff, checked: chosen.has(p.userId), step: String(values[`step:${p.userId}`] ?? i + 1), fieldId: `approver-${i}` })),
        action: `${base(req)}/`,
        values,
        sequential: values.sequence === 'sequential',
        errors: {},
        ...extra,
      },
      { title: 'Request approval', status },
    );
    return true;
  }

  workspace.get('/new', authorize('create', 'Approval'), async (req) => {
    const q = newQuery.safeParse(req.query);
    const type = q.success ? q.data.type : '';
    const subject = q.success ? q.data.subject : '';
    if (type && subject && (await newPage(req, type, subject))) return;
    // Nothing (or nothing found) to approve: explain where requests start, never which ids exist.
    await req.ctx.render('approvals/new-start', { types: approvables.list().map((t) => ({ label: t.label })), asked: Boolean(type || subject) }, { title: 'Request approval', status: type || subject ? 404 : 200 });
  });

  workspace.post('/', authorize('create', 'Approval'), async (req, res, next) => {
    const body = formBody(req.body) as Record<string, unknown>;
    const type = typeof body.type === 'string' ? body.type : '';
    const subjectId = typeof body.subject === 'string' ? body.subject : '';
    const subject = await approvables.describe(req.ctx.scope!, type, subjectId);
    if (!subject) return next(notFound());
    const people = await eligibleFor(req, subject.clientVisible);
    const eligible = people.map((p) => p.userId);
    const parsed = createForm(eligible, deps.clock.now()).safeParse(body);
    if (!parsed.success) {
      await newPage(req, type, subjectId, { values: body, sequential: body.sequence === 'sequential', errors: fieldErrors(parsed.error) }, 400);
      return;
    }
    const f = parsed.data;
    const ws = wsOf(req);
    const id = await transaction(db, (trx) =>
      createRequest(deps, trx, ws, req.ctx.actor(), {
        subject,
        title: f.title,
        message: f.message,
        sequence: f.sequence,
        dueAt: f.due ? endOfDay(f.due) : null,
        autoApprove: f.autoApprove === 'yes',
        approverIds: f.sequence === 'sequential' ? orderApprovers(f.approvers, eligible, body) : f.approvers,
      }),
    );
    await req.ctx.flash('success', `Approval requested from ${f.approvers.length === 1 ? 'one person' : `${f.approvers.length} people`}.`);
    res.redirect(303, `${base(req)}/r/${id}`);
  });

  // ---- one request

  async function requestPage(req: Request, r: RequestRow, extra: Record<string, unknown> = {}, status = 200) {
    const staff = seesAll(req);
    const subject = await approvables.describe(req.ctx.scope!, r.subject_type, r.subject_id);
    const { view: model, approvers, decided: done } = await detail(db, r, { staff, userId: req.ctx.user!.id, label: approvables.label(r.subject_type), subjectHref: subject ? `/w/${req.ctx.workspace!.slug}${subject.path}` : null, now: deps.clock.now() });
    const canDecide = req.ctx.ability.can('decide', 'Approval') && awaiting(r, approvers, done).some((a) => a.userId === req.ctx.user!.id);
    // The version being decided, read in place (its pages as images, from the route below). A
    // subject without pages (gone, or not a PDF) shows nothing here; one whose pages cannot be
    // drawn says so, with the way to its own page.
    const subjectHref = subject ? `/w/${req.ctx.workspace!.slug}${subject.path}` : null;
    const pages = subject ? await approvables.pages(req.ctx.scope!, r.subject_type, r.subject_id, r.version_id) : undefined;
    await req.ctx.render(
      'approvals/request',
      {
        ...model,
        document: pages ? documentView(pages, { name: r.subject_title, src: (n) => `${base(req)}/r/${r.id}/pages/${n}`, open: subjectHref }) : null,
        staff,
        // Its discussion, when a plugin provides discussions (the kernel's subject threads).
        discussion: req.ctx.subjectThread('Approval', r.id),
        canDecide,
        canCancel: r.status === 'pending' && req.ctx.ability.can('cancel', 'Approval'),
        decideAction: `${base(req)}/r/${r.id}/decide`,
        cancelAction: `${base(req)}/r/${r.id}/cancel`,
        listHref: `${base(req)}/`,
        versionId: r.version_id,
        values: {},
        errors: {},
        ...extra,
      },
      { title: r.title, status },
    );
  }

  const requestOr404 = async (req: Request, next: NextFunction) => {
    const r = await findRequest(req, String(req.params.requestId));
    if (!r) next(notFound());
    return r;
  };

  workspace.get('/r/:requestId', authorize('read', 'Approval'), async (req, _res, next) => {
    const r = await requestOr404(req, next);
    if (r) await requestPage(req, r);
  });

  // One page of the version being decided, as an image: to whoever may read the request (the
  // same lookup as its page), with the download headers. Not a receipt: it is reading, not taking.
  workspace.get('/r/:requestId/pages/:page', authorize('read', 'Approval'), async (req, res, next) => {
    const r = await requestOr404(req, next);
    if (!r) return;
    const n = pageNumber(req.params.page);
    const image = n ? await approvables.pageImage(req.ctx.scope!, r.subject_type, r.subject_id, r.version_id, n) : undefined;
    if (!image) return next(notFound());
    sendPageImage(res, pageImageName(r.subject_title, n!), image);
  });

  workspace.post('/r/:requestId/decide', authorize('decide', 'Approval'), async (req: Request, res: Response, next) => {
    const r = await requestOr404(req, next);
    if (!r) return;
    // Only an approver of this request may even be told why a decision is refused.
    const approvers = await approversOf(db, r.workspace_id, r.id);
    if (!approvers.some((a) => a.userId === req.ctx.user!.id)) return next(notFound());
    const parsed = decideForm.safeParse(formBody(req.body));
    if (!parsed.success) return requestPage(req, r, { errors: fieldErrors(parsed.error), values: formBody(req.body) }, 400);
    const result = await transaction(db, (trx) =>
      decide(deps, trx, wsOf(req), r.id, {
        approverId: req.ctx.user!.id,
        decision: parsed.data.decision === 'approve' ? 'approved' : 'changes_requested',
        comment: parsed.data.comment,
        via: 'portal',
        versionId: parsed.data.version,
        ip: req.ctx.ip,
        userAgent: req.ctx.userAgent,
      }),
    );
    if (!result.ok) {
      const fresh = (await findRequest(req, r.id)) ?? r;
      return requestPage(req, fresh, { refusal: REFUSALS[result.reason] }, 409);
    }
    await req.ctx.flash('success', parsed.data.decision === 'approve' ? 'Thank you: your approval is recorded.' : 'Thank you: your request for changes is recorded and the team has been told.');
    res.redirect(303, `${base(req)}/r/${r.id}`);
  });

  workspace.post('/r/:requestId/cancel', authorize('cancel', 'Approval'), async (req, res, next) => {
    const r = await requestOr404(req, next);
    if (!r) return;
    if (Object.keys(formBody(req.body)).length) return requestPage(req, r, { refusal: 'The request could not be understood.' }, 400);
    const done = await transaction(db, (trx) => cancelRequest(deps, trx, wsOf(req), r.id, req.ctx.actor()));
    if (!done) return requestPage(req, (await findRequest(req, r.id)) ?? r, { refusal: 'Only a request that is still waiting can be withdrawn.' }, 409);
    await req.ctx.flash('success', 'The request was withdrawn and the approvers still asked were told.');
    res.redirect(303, `${base(req)}/r/${r.id}`);
  });
}
