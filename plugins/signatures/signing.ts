// The signer's side, on the plugin's link router (/l/signatures/:token). The kernel has resolved
// the token (unknown, expired, used, revoked, archived workspace: 404) and set req.ctx.link and
// the link's workspace. The link is for signing one envelope only: these pages show this
// envelope's document and this signer's own steps, never other signers' links or anything else.
//   GET  /            review: the document, consent, then the signature form (records 'opened' once)
//   GET  /document    the exact version that was sent (hash-checked)
//   GET  /pages/:page one page of that version as an image, to read it in place (writes nothing)
//   POST /consent     consent to sign electronically (the consent text's version and hash recorded)
//   POST /sign        typed name or drawn PNG; refused if the document changed after sending
//   POST /decline     with a reason; ends the envelope
//   GET  /assets/signatures.js   the drawing pad (served, never inline: CSP nonce rules)
// A `copy` link (mailed to each signer at completion) answers only GET / and GET /document, with
// the signed version; it is never consumed and expires after copyTtlDays.
import type { NextFunction, Request, Response, Router } from 'express';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { contentDisposition, documentView, fieldErrors, formBody, multiLine, notFound, pageImageName, pageNumber, safeName, sendPageImage, singleLine } from '../../core/index.ts';
import { CURRENT_CONSENT } from './consent.ts';
import { decodeSignaturePng } from './pdf.ts';
import type { EnvelopeRow, SignerRow } from './repo.ts';
import { actorOf, copyContext, decline, documentChanged, recordConsent, recordOpened, recordRefusal, sign, signingContext, type SignDeps } from './service.ts';

const SCRIPT = readFileSync(new URL('./assets/signatures.js', import.meta.url));

const consentForm = z.strictObject({ agree: z.literal('yes', { error: 'Tick the box to agree, or decline to sign below' }) });
const signForm = z.strictObject({
  kind: z.enum(['typed', 'drawn'], { error: 'Choose how to sign' }),
  typed_name: singleLine({ max: 100 }).optional().default(''),
  // not free text: a PNG data URL, decoded before it is accepted
  drawn: z.string().max(300_000, 'The drawn signature is too large (over 200 KB)').optional().default(''),
});
const declineForm = z.strictObject({ reason: multiLine({ max: 1000, min: 1, required: 'Tell the sender why you decline' }) });

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 102.4) / 10} KiB`;
  return `${Math.round(n / 104857.6) / 10} MiB`;
}

export function linkRoutes(link: Router, deps: SignDeps): void {
  const { db, files } = deps;

  /** This link's signer and envelope, or 404 (the same answer as an unknown link). */
  async function current(req: Request, next: NextFunction): Promise<{ env: EnvelopeRow; signer: SignerRow } | undefined> {
    const l = req.ctx.link;
    const found = l ? await signingContext(db, l) : undefined;
    if (!found) next(notFound());
    return found;
  }

  const signerActor = (req: Request, signer: SignerRow) => actorOf({ actorId: signer.user_id, ip: req.ctx.ip, userAgent: req.ctx.userAgent }, signer.name);

  async function page(req: Request, env: EnvelopeRow, signer: SignerRow, extra: Record<string, unknown> = {}, status = 200) {
    const total = (await db('signatures_signers').where({ workspace_id: env.workspace_id, envelope_id: env.id }).count({ n: '*' }).first()) as { n: number | string };
    // Only staff send: the sender is the firm's (the workspace is the client's, never the sender's).
    const sender = env.created_by ? ((await db('users').where({ id: env.created_by }).first('name')) as { name: string } | undefined) : undefined;
    // Only the cheap check here (the current version); the full hash is recomputed when signing.
    const now = await files.describe(db, env.workspace_id, env.file_id);
    const base = req.baseUrl;
    // The exact version that was sent, read in place (or why it cannot be, beside its download).
    const pages = await files.pages(env.workspace_id, env.file_id, env.version_id);
    await req.ctx.render(
      'signatures/sign',
      {
        envelope: { title: env.title, message: env.message, document: env.document_name, size: formatBytes(env.document_size), pages: env.page_count, sha256: env.sha256_sent, sentAt: env.sent_at, sender: sender?.name ?? 'The sender', firm: (await deps.branding.get()).firmName },
        signer: { name: signer.name, position: signer.position, of: Number(total.n), consented: signer.consented_at !== null },
        changed: !now || now.versionId !== env.version_id,
        consent: { version: CURRENT_CONSENT.version, paragraphs: CURRENT_CONSENT.paragraphs },
        actions: { document: `${base}/document`, consent: `${base}/consent`, sign: `${base}/sign`, decline: `${base}/decline` },
        document: documentView(pages, { name: env.document_name, src: (n) => `${base}/pages/${n}`, download: `${base}/document` }),
        scriptSrc: `${base}/assets/signatures.js`,
        nonce: req.ctx.nonce,
        values: { typed_name: signer.name, kind: 'typed' },
        ...extra,
      },
      { title: `Sign: ${env.title}`, status },
    );
  }

  link.get('/assets/signatures.js', (_req, res) => {
    res.type('application/javascript').setHeader('Cache-Control', 'no-store');
    res.send(SCRIPT);
  });

  /** Send PDF bytes as a download. */
  function sendPdf(res: Response, fileName: string, bytes: Buffer) {
    res.setHeader('Content-Type', 'application/pdf');
    res.setHeader('Content-Disposition', contentDisposition(safeName(fileName, 'document.pdf')));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "sandbox; default-src 'none'");
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Content-Length', String(bytes.length));
    res.status(200).end(bytes);
  }

  link.get('/', async (req, _res, next) => {
    if (req.ctx.link?.purpose === 'copy') {
      const copy = await copyContext(db, req.ctx.link);
      if (!copy) return next(notFound());
      return req.ctx.render('signatures/copy', { title: copy.env.title, document: copy.env.document_name, sha256: copy.env.sha256_final, finishedAt: copy.env.finished_at, download: `${req.baseUrl}/document` }, { title: `Signed: ${copy.env.title}` });
    }
    const found = await current(req, next);
    if (!found) return;
    // The certificate records when the signer first opened the document: a declared GET write
    // (one row, first open only). Nothing consequential happens on a GET: consent and signature
    // are POSTs, so a mail scanner following the link can at most record an 'opened'.
    await recordOpened(deps, found.env, found.signer, signerActor(req, found.signer));
    await page(req, found.env, found.signer);
  });

  link.get('/document', async (req: Request, res: Response, next) => {
    if (req.ctx.link?.purpose === 'copy') {
      const copy = await copyContext(db, req.ctx.link);
      if (!copy) return next(notFound());
      // The signed version, certificate included: what every signer keeps.
      const bytes = await files.readVersion(copy.env.workspace_id, copy.env.file_id, copy.env.signed_version_id!, { maxBytes: deps.settings.maxPdfBytes * 2 });
      return sendPdf(res, copy.env.document_name.replace(/(\.pdf)?$/i, ' (signed).pdf'), bytes);
    }
    const found = await current(req, next);
    if (!found) return;
    const { env } = found;
    // The exact version that was sent, whatever the file's current version is now.
    sendPdf(res, env.document_name, await files.readVersion(env.workspace_id, env.file_id, env.version_id, { maxBytes: deps.settings.maxPdfBytes }));
  });

  // One page of the version sent, as an image, for this link's signer only (the same lookup as the
  // page: a used, revoked or copy link is 404), with the download headers. Nothing is recorded.
  link.get('/pages/:page', async (req, res, next) => {
    const found = await current(req, next);
    if (!found) return;
    const { env } = found;
    const n = pageNumber(req.params.page);
    const image = n ? await files.pageImage(env.workspace_id, env.file_id, env.version_id, n) : undefined;
    if (!image) return next(notFound());
    sendPageImage(res, pageImageName(env.document_name, n!), image);
  });

  link.post('/consent', async (req, res, next) => {
    const found = await current(req, next);
    if (!found) return;
    const parsed = consentForm.safeParse(formBody(req.body));
    if (!parsed.success) return page(req, found.env, found.signer, { consentErrors: fieldErrors(parsed.error) }, 400);
    await recordConsent(deps, found.env, found.signer, signerActor(req, found.signer));
    res.redirect(303, `${req.baseUrl}#sign`);
  });

  link.post('/sign', async (req, res, next) => {
    const found = await current(req, next);
    if (!found) return;
    const { env, signer } = found;
    const raw = formBody(req.body) as Record<string, string>;
    const values = { kind: raw.kind, typed_name: raw.typed_name };
    if (signer.consented_at === null) return page(req, env, signer, { consentErrors: { agree: 'Agree to sign electronically first' } }, 400);
    const parsed = signForm.safeParse(raw);
    if (!parsed.success) return page(req, env, signer, { errors: fieldErrors(parsed.error), values }, 400);
    let sig: { kind: 'typed' | 'drawn'; text: string | null; png: Buffer | null };
    if (parsed.data.kind === 'typed') {
      if (!parsed.data.typed_name) return page(req, env, signer, { errors: { typed_name: 'Type your full name to sign' }, values }, 400);
      sig = { kind: 'typed', text: parsed.data.typed_name, png: null };
    } else {
      // Decoded in full now, before anything is saved or the link is used: an image that cannot be
      // decoded would otherwise surface only when the last signer signs.
      const png = await decodeSignaturePng(parsed.data.drawn);
      if ('problem' in png) return page(req, env, signer, { errors: { drawn: png.problem }, values }, 400);
      sig = { kind: 'drawn', text: null, png: png.png };
    }
    const actor = signerActor(req, signer);
    const ws = req.ctx.workspace!;
    // A document changed after sending cannot be signed: refuse, record it, tell the sender.
    const changed = await documentChanged(deps, db, env);
    if (changed) {
      await recordRefusal(deps, env, signer, actor, changed, ws);
      return page(req, env, signer, { refused: changed.reason, changed: true }, 409);
    }
    const result = await sign(deps, req.ctx.link!.id, env, signer, sig, actor, ws);
    if (result === 'gone') return next(notFound());
    if (typeof result === 'object') return page(req, env, signer, { refused: result.refused, changed: true }, 409);
    // The link is used now: the answer is this page, not a redirect back to it.
    await req.ctx.render('signatures/done', { title: env.title, completed: result === 'completed', declined: false }, { title: 'Signed' });
  });

  link.post('/decline', async (req, _res, next) => {
    const found = await current(req, next);
    if (!found) return;
    const { env, signer } = found;
    const parsed = declineForm.safeParse(formBody(req.body));
    if (!parsed.success) return page(req, env, signer, { declineErrors: fieldErrors(parsed.error), declineOpen: true, declineValues: formBody(req.body) }, 400);
    const ok = await decline(deps, req.ctx.link!.id, env, signer, parsed.data.reason, signerActor(req, signer), req.ctx.workspace!);
    if (!ok) return next(notFound());
    await req.ctx.render('signatures/done', { title: env.title, completed: false, declined: true }, { title: 'Declined' });
  });
}
