// The signed-in signer's side of signatures, under /w/:workspace/signatures (signers with an
// account; outside signers only ever have the mail):
//   GET  /mine                 "To sign": the person's own requests, their turn first, then the rest
//   *    /sign/:signerId/...    the signing pages of signing.ts (review, document, consent, sign,
//                              decline), for the signed-in signer, without the mail
// Safety: a request to sign is found through the workspace scope and the `sign SignatureRequest`
// rule (its row's user_id is the signed-in person and it is their turn), and then stands in for
// the signer's current mailed link: the same single-use link row (core/links.ts) must still be
// unused and unrevoked, signing or declining here consumes it (the mail's link then stops working,
// and a link already used or revoked by a resend or a void stops this page too), and every step
// is the link pages' own code. Only the link's expiry does not apply: it bounds how long a token
// in a mailbox is worth anything, and here the person's session is the credential. A request of
// someone else, another workspace's, or one that is not theirs to sign now is the same 404.
import { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { accessibleBy, authorize, notFound } from '../../core/index.ts';
import { linkRoutes } from './signing.ts';
import type { SignDeps } from './service.ts';

const MY_STATUS: Record<string, string> = { pending: 'Your turn to sign', waiting: 'Waiting for earlier signers', signed: 'You signed', declined: 'You declined', voided: 'Cancelled' };
const MY_TONE: Record<string, string> = { pending: 'brand', waiting: 'info', signed: 'success', declined: 'warning', voided: 'neutral' };
const ENVELOPE_STATUS: Record<string, string> = { sent: 'Out for signature', completed: 'Signed by everyone', declined: 'Declined', voided: 'Cancelled by the sender' };
const pageQuery = z.object({ page: z.coerce.number().int().min(1).max(100_000).catch(1) });

const base = (req: Request) => `/w/${req.ctx.workspace!.slug}/signatures`;

export function portalRoutes(workspace: Router, deps: SignDeps): void {
  const { db, settings } = deps;

  // ---- To sign: the person's own requests (never anyone else's, never an envelope's page)

  workspace.get('/mine', authorize('read', 'SignatureRequest'), async (req) => {
    const { page: asked } = pageQuery.parse(req.query);
    const mine = () =>
      req.ctx
        .scope!.table('signatures_signers', 's')
        .join('signatures_envelopes as e', function () {
          this.on('e.id', '=', 's.envelope_id').andOn('e.workspace_id', '=', 's.workspace_id');
        })
        .modify(accessibleBy(req.ctx.ability, 'read', 'SignatureRequest', (f) => `s.${f}`))
        .where('s.user_id', req.ctx.user!.id);
    const read = (page: number) =>
      mine()
        .orderByRaw("case when s.status = 'pending' then 0 else 1 end")
        .orderBy('e.sent_at', 'desc')
        .orderBy('s.id')
        .limit(settings.pageSize)
        .offset((page - 1) * settings.pageSize)
        .select('s.id', 's.status', 's.signed_at', 'e.title', 'e.document_name', 'e.status as envelope_status', 'e.sent_at', db.raw('count(*) over () as mine_total')) as Promise<Array<Record<string, unknown>>>;
    let page = asked;
    let rows = await read(page);
    if (!rows.length && page > 1) {
      // Past the end: the last page.
      const total = Number(((await mine().count({ n: '*' }).first()) as { n: number | string }).n);
      page = Math.max(1, Math.ceil(total / settings.pageSize));
      rows = await read(page);
    }
    const total = rows.length ? Number(rows[0]!.mine_total) : 0;
    const pages = Math.max(1, Math.ceil(total / settings.pageSize));
    const yours = rows.filter((r) => r.status === 'pending').length;
    await req.ctx.render(
      'signatures/mine',
      {
        requests: rows.map((r) => ({
          title: String(r.title),
          document: String(r.document_name),
          status: MY_STATUS[String(r.status)] ?? String(r.status),
          tone: MY_TONE[String(r.status)] ?? 'neutral',
          envelopeStatus: ENVELOPE_STATUS[String(r.envelope_status)] ?? String(r.envelope_status),
          yourTurn: r.status === 'pending',
          sentAt: Number(r.sent_at),
          signedAt: r.signed_at == null ? null : Number(r.signed_at),
          href: `${base(req)}/sign/${String(r.id)}/`,
        })),
        yours,
        lede: yours ? `${yours} ${yours === 1 ? 'document is' : 'documents are'} waiting for your signature.` : 'Nothing is waiting for your signature.',
        total,
        page,
        pages,
        prev: page > 1 ? `${base(req)}/mine?page=${page - 1}` : null,
        next: page < pages ? `${base(req)}/mine?page=${page + 1}` : null,
      },
      { title: 'To sign' },
    );
  });

  // ---- signing without the mail

  /**
   * The signed-in person's request to sign, standing in for its mailed link: req.ctx.link is set
   * exactly as the link router's middleware would, from the signer's current link row.
   */
  async function asSigner(req: Request, res: Response, next: NextFunction) {
    const user = req.ctx.user!;
    const ws = req.ctx.workspace!;
    const signerId = String(req.params.signerId ?? '');
    const row = (await req.ctx
      .scope!.table('signatures_signers')
      .modify(accessibleBy(req.ctx.ability, 'sign', 'SignatureRequest'))
      .where({ id: signerId, user_id: user.id, status: 'pending' })
      .first('id', 'link_id')) as { id: string; link_id: string | null } | undefined;
    if (!row) {
      // Theirs, but no longer theirs to sign (signed, declined, cancelled, not their turn yet):
      // back to their list with a sentence. Anything else is the same 404 as a missing row.
      if (req.method === 'GET' && req.path === '/') {
        const own = await req.ctx.scope!.table('signatures_signers').modify(accessibleBy(req.ctx.ability, 'read', 'SignatureRequest')).where({ id: signerId, user_id: user.id }).first('status');
        if (own) {
          await req.ctx.flash('info', own.status === 'waiting' ? 'It is not your turn to sign yet: you will be asked when the signers before you have signed.' : 'This request to sign is closed: there is nothing left for you to do.');
          return res.redirect(303, `${base(req)}/mine`);
        }
      }
      return next(notFound());
    }
    const link = row.link_id
      ? ((await db('links').where({ id: row.link_id, plugin: 'signatures', purpose: 'sign', workspace_id: ws.id, subject_id: row.id }).whereNull('used_at').whereNull('revoked_at').first('id', 'expires_at')) as { id: string; expires_at: number | string } | undefined)
      : undefined;
    if (!link) {
      if (req.method === 'GET' && req.path === '/') {
        await req.ctx.flash('error', 'This request to sign can no longer be opened here. Ask the sender to send it again.');
        return res.redirect(303, `${base(req)}/mine`);
      }
      return next(notFound());
    }
    req.ctx.link = { id: String(link.id), plugin: 'signatures', purpose: 'sign', workspaceId: ws.id, userId: user.id, subjectId: row.id, expiresAt: Number(link.expires_at) };
    next();
  }

  const steps = Router({ mergeParams: true });
  linkRoutes(steps, deps);
  workspace.use('/sign/:signerId', asSigner, steps);
}
