// The emailed decision link, mounted by the kernel at /l/approvals/:token (core/links.ts resolves
// the token first: unknown, expired, used or revoked all answer 404, and req.ctx.link, workspace
// and scope are the link's). GET shows the document (its pages read in place, from GET /pages/:page,
// and a download) and the buttons and never writes the decision (mail scanners follow links); POST
// decides as the link's person and uses the link up, in one transaction. No sign-in is needed; the
// CSRF token comes from an anonymous session as usual.
import type { Request, Response, Router } from 'express';
import { documentView, fieldErrors, formBody, notFound, pageImageName, pageNumber, sendPageImage, transaction } from '../../core/index.ts';
import { decideForm } from './forms.ts';
import { REFUSALS } from './routes.ts';
import { REQUEST_COLS, approversOf, awaiting, dayString, decide, decisionsOf, normRequest, type ApprovalsDeps, type DecideResult, type RequestRow } from './service.ts';

class Refused extends Error {
  constructor(readonly result: DecideResult) {
    super('refused');
  }
}

export function linkRoutes(link: Router, deps: ApprovalsDeps): void {
  const { db, approvables, links, audit } = deps;

  /** The request this link is for, and its person, if they may still answer it; else undefined (404). */
  async function load(req: Request): Promise<{ r: RequestRow; userId: string; name: string } | undefined> {
    const grant = req.ctx.link;
    if (!grant || grant.purpose !== 'decide' || !grant.userId) return undefined;
    const row = await req.ctx.scope!.table('approvals_requests').where({ id: grant.subjectId }).first(REQUEST_COLS);
    if (!row) return undefined;
    const r = normRequest(row);
    // Still a person of this workspace who may approve (a removed member's link stops working).
    const people = await approvables.peopleWhoCan(db, r.workspace_id, 'decide', 'Approval');
    const me = people.find((p) => p.userId === grant.userId);
    if (!me || (!r.client_visible && !me.staff)) return undefined;
    return { r, userId: me.userId, name: me.name };
  }

  const base = (req: Request) => `/l/approvals/${encodeURIComponent(String(req.params.token))}`;

  async function page(req: Request, res: Response, found: { r: RequestRow; userId: string; name: string }, extra: Record<string, unknown> = {}, status = 200) {
    const { r, userId, name } = found;
    const approvers = await approversOf(db, r.workspace_id, r.id);
    const decisions = await decisionsOf(db, r.workspace_id, r.id, r.round);
    const done = new Set(decisions.map((d) => d.approverId));
    const mine = decisions.find((d) => d.approverId === userId);
    const canDecide = awaiting(r, approvers, done).some((a) => a.userId === userId);
    const state = canDecide
      ? null
      : r.status !== 'pending'
        ? 'This request is closed, so there is nothing left to decide. Thank you.'
        : mine
          ? 'You have already answered this request. Thank you.'
          : 'It is not your turn yet: you will get an email when it is.';
    const subject = await approvables.describe(req.ctx.scope!, r.subject_type, r.subject_id, { versionId: r.version_id });
    const pages = subject ? await approvables.pages(req.ctx.scope!, r.subject_type, r.subject_id, r.version_id) : undefined;
    res.setHeader('Referrer-Policy', 'no-referrer');
    await req.ctx.render(
      'approvals/link',
      {
        workspaceName: req.ctx.workspace!.name,
        personName: name,
        request: { title: r.title, message: r.message, dueDay: r.due_at !== null ? dayString(r.due_at) : null, autoApprove: r.auto_approve, sequential: r.sequence === 'sequential' },
        subject: { label: approvables.label(r.subject_type), title: r.subject_title, versionNumber: r.version_number, sha256: r.sha256, size: subject?.size ?? null, download: subject ? `${base(req)}/download` : null },
        // The version being decided, read in place (a subject without pages keeps its download button).
        document: pages ? documentView(pages, { name: r.subject_title, src: (n) => `${base(req)}/pages/${n}`, download: `${base(req)}/download`, downloadLabel: `Download version ${r.version_number}` }) : null,
        canDecide,
        state,
        action: base(req),
        versionId: r.version_id,
        values: {},
        errors: {},
        ...extra,
      },
      { title: r.title, status },
    );
  }

  link.get('/', async (req, res, next) => {
    const found = await load(req);
    if (!found) return next(notFound());
    await page(req, res, found);
  });

  // One page of the version being decided, as an image, for this link's person only (the same
  // lookup as the page). Reading is not taking: no receipt, no write (a GET by a mail scanner too).
  link.get('/pages/:page', async (req, res, next) => {
    const found = await load(req);
    if (!found) return next(notFound());
    const { r } = found;
    const n = pageNumber(req.params.page);
    const image = n ? await approvables.pageImage(req.ctx.scope!, r.subject_type, r.subject_id, r.version_id, n) : undefined;
    if (!image) return next(notFound());
    res.setHeader('Referrer-Policy', 'no-referrer');
    sendPageImage(res, pageImageName(r.subject_title, n!), image);
  });

  link.get('/download', async (req, res, next) => {
    const found = await load(req);
    if (!found) return next(notFound());
    const { r, userId } = found;
    if (!(await approvables.describe(req.ctx.scope!, r.subject_type, r.subject_id, { versionId: r.version_id }))) return next(notFound());
    // A download is a receipt, like every download of a file in the portal.
    await transaction(db, (trx) =>
      audit.record(trx, { actorId: userId, ip: req.ctx.ip, userAgent: req.ctx.userAgent, workspaceId: r.workspace_id, action: 'approvals.document.download', subjectType: 'Approval', subjectId: r.id, detail: { via: 'link', versionId: r.version_id, sha256: r.sha256 } }),
    );
    if (!(await approvables.send(req, res, req.ctx.scope!, r.subject_type, r.subject_id, r.version_id))) return next(notFound());
  });

  link.post('/', async (req, res, next) => {
    const found = await load(req);
    if (!found) return next(notFound());
    const parsed = decideForm.safeParse(formBody(req.body));
    if (!parsed.success) return page(req, res, found, { errors: fieldErrors(parsed.error), values: formBody(req.body) }, 400);
    const ws = { id: req.ctx.workspace!.id, slug: req.ctx.workspace!.slug, name: req.ctx.workspace!.name };
    const decision = parsed.data.decision === 'approve' ? 'approved' : 'changes_requested';
    let at = 0;
    try {
      await transaction(db, async (trx) => {
        // Single use: two clicks racing, one wins; the loser changes nothing.
        if (!(await links.consume(trx, req.ctx.link!.id))) throw new Refused({ ok: false, reason: 'already_decided' });
        const result = await decide(deps, trx, ws, found.r.id, { approverId: found.userId, decision, comment: parsed.data.comment, via: 'link', versionId: parsed.data.version, ip: req.ctx.ip, userAgent: req.ctx.userAgent });
        if (!result.ok) throw new Refused(result);
        at = deps.clock.now();
      });
    } catch (err) {
      if (!(err instanceof Refused) || err.result.ok) throw err;
      return page(req, res, found, { refusal: REFUSALS[err.result.reason] }, 409);
    }
    res.setHeader('Referrer-Policy', 'no-referrer');
    await req.ctx.render(
      'approvals/link-done',
      // The record is the firm's (its portal keeps it), not the client workspace's: the page names
      // the firm through {{brand.firmName}}, like every page.
      { approved: decision === 'approved', title: found.r.title, subjectTitle: found.r.subject_title, versionNumber: found.r.version_number, sha256: found.r.sha256, at, comment: parsed.data.comment },
      { title: 'Decision recorded' },
    );
  });
}
