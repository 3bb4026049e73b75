// The staff side of signatures, mounted at /w/:workspace/signatures: the list of envelopes, a
// form to send a PDF from `files` for signature (signers in order, where each one signs: a place
// clicked on the rendered page, or a page and a position preset), an envelope's page (status,
// signers, every event, hashes), void and resend. Every read goes
// through the workspace scope and the ability's row filter; view models are built field by field
// and never carry a link, a token or a token hash.
import type { Request, Router } from 'express';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AtriumError, authorize, documentView, fieldErrors, formBody, multiLine, notFound, pageImageName, pageNumber, sendPageImage, singleLine } from '../../core/index.ts';
import type { FileVersionInfo } from '../files/api.ts';
import { inspectPdf, PdfProblem, POSITIONS, SIGNATURE_BOX } from './pdf.ts';
import { CLICKED, placementFor } from './placement.ts';
import { envelopesQuery, eventsOf, findEnvelope, normEnvelope, ENVELOPE_COLS, signersOf, type EnvelopeRow } from './repo.ts';
import { actorOf, candidates, Refusal, resend, sendEnvelope, voidEnvelope, type SignDeps } from './service.ts';

const STATUS_LABELS: Record<string, string> = { sent: 'Out for signature', completed: 'Completed', declined: 'Declined', voided: 'Voided' };
const SIGNER_LABELS: Record<string, string> = { waiting: 'Waiting for earlier signers', pending: 'Asked to sign', signed: 'Signed', declined: 'Declined', voided: 'Cancelled' };
const EVENT_LABELS: Record<string, string> = { created: 'Created', sent: 'Sent', opened: 'Opened', consented: 'Consented to sign electronically', signed: 'Signed', declined: 'Declined', completed: 'Completed', voided: 'Voided', refused: 'Signing refused: document changed', resent: 'Link sent again' };

const titleField = singleLine({ max: 200, min: 1, required: 'Give the envelope a title' });
const messageField = multiLine({ max: 2000 }).optional().default('');
/** An outside signer's name: checked row by row (below), so every row's problems come back together. */
const signerName = singleLine({ max: 200, min: 1, required: 'Enter the signer’s name (at most 200 characters)' });
// The kernel's outbox accepts only plain `local@domain` addresses (core/mail/address.ts, not part
// of the public API): the same rule here, so an address the outbox would refuse is caught beside
// its field when sending, not later when an earlier signer signs and the next one is mailed.
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const emailRe = new RegExp(`^${ATEXT}(?:\\.${ATEXT})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$`);
const plainAddress = (e: string) => e.length <= 254 && emailRe.test(e) && e.split('@')[0]!.length <= 64;

const listQuery = z.object({
  status: z.enum(['all', 'sent', 'completed', 'declined', 'voided']).optional().default('all'),
  page: z.coerce.number().int().min(1).max(100_000).optional().default(1),
});

const voidForm = z.strictObject({ reason: singleLine({ max: 500 }).optional().default('') });
const emptyForm = z.strictObject({});

const base = (req: Request) => `/w/${req.ctx.workspace!.slug}/signatures`;

/** Placing signatures by clicking on the rendered pages (served, never inline: CSP nonce rules). */
const PLACEMENT_SCRIPT = readFileSync(new URL('./assets/placement.js', import.meta.url));

export function workspaceRoutes(workspace: Router, deps: SignDeps): void {
  const { db, files, settings } = deps;
  const ROWS = Math.min(settings.maxSigners, 5);

  // ---- the list

  workspace.get('/', authorize('read', 'Envelope'), async (req) => {
    const parsed = listQuery.safeParse(req.query);
    const q = parsed.success ? parsed.data : listQuery.parse({});
    const list = envelopesQuery(req).modify((b) => (q.status === 'all' ? b : b.where('status', q.status)));
    const total = Number(((await list.clone().count({ n: '*' }).first()) as { n: number | string }).n);
    const pages = Math.max(1, Math.ceil(total / settings.pageSize));
    const page = Math.min(q.page, pages);
    const rows = ((await list.orderBy('created_at', 'desc').orderBy('id').limit(settings.pageSize).offset((page - 1) * settings.pageSize).select(ENVELOPE_COLS)) as Array<Record<string, unknown>>).map(normEnvelope);
    const counts = rows.length
      ? ((await req.ctx.scope!.table('signatures_signers').whereIn('envelope_id', rows.map((r) => r.id)).groupBy('envelope_id').select('envelope_id').count({ n: '*' }).sum({ signed: db.raw("case when status = 'signed' then 1 else 0 end") })) as Array<{ envelope_id: string; n: number | string; signed: number | string | null }>)
      : [];
    const byId = new Map(counts.map((c) => [c.envelope_id, { n: Number(c.n), signed: Number(c.signed ?? 0) }]));
    const link = (over: Record<string, string | number>) => `${base(req)}/?${new URLSearchParams({ status: q.status, page: String(page), ...Object.fromEntries(Object.entries(over).map(([k, v]) => [k, String(v)])) })}`;
    await req.ctx.render(
      'signatures/list',
      {
        envelopes: rows.map((e) => ({ title: e.title, document: e.document_name, status: STATUS_LABELS[e.status] ?? e.status, statusKey: e.status, sentAt: e.sent_at, progress: `${byId.get(e.id)?.signed ?? 0} of ${byId.get(e.id)?.n ?? 0} signed`, href: `${base(req)}/e/${e.id}` })),
        filters: (['all', 'sent', 'completed', 'declined', 'voided'] as const).map((s) => ({ label: s === 'all' ? 'All' : STATUS_LABELS[s], href: link({ status: s, page: 1 }), current: s === q.status })),
        total,
        page,
        pages,
        prev: page > 1 ? link({ page: page - 1 }) : null,
        next: page < pages ? link({ page: page + 1 }) : null,
        newHref: `${base(req)}/new`,
        canCreate: req.ctx.ability.can('create', 'Envelope'),
      },
      { title: 'Signatures' },
    );
  });

  // ---- sending

  /** The PDF to send: the file's current version, read and checked, with its page sizes. */
  async function documentFor(req: Request, fileId: string): Promise<{ file: FileVersionInfo; bytes: Buffer; pages: Array<{ width: number; height: number }> } | { problem: string } | undefined> {
    const file = await files.describe(db, req.ctx.workspace!.id, fileId);
    if (!file) return undefined;
    if (file.contentType !== 'application/pdf') return { problem: `${file.name} is not a PDF. Only PDF documents can be sent for signature.` };
    if (file.size > settings.maxPdfBytes) return { problem: `${file.name} is too large to be signed here.` };
    try {
      const bytes = await files.readVersion(req.ctx.workspace!.id, file.fileId, file.versionId, { maxBytes: settings.maxPdfBytes });
      return { file, bytes, pages: await inspectPdf(bytes) };
    } catch (err) {
      if (err instanceof PdfProblem) return { problem: err.message };
      if (err instanceof AtriumError && err.code === 'ATR_STORAGE_INTEGRITY') return { problem: `${file.name} failed its integrity check in storage, so it cannot be sent for signature. Upload it again.` };
      throw err;
    }
  }

  async function newPage(req: Request, model: Record<string, unknown>, status = 200) {
    const fileId = typeof req.query.file === 'string' ? req.query.file : '';
    const pdfs = fileId ? [] : (await files.listByType(db, req.ctx.workspace!.id, 'application/pdf', { limit: 100 })).map((f) => ({ name: f.name, href: `${base(req)}/new?file=${encodeURIComponent(f.fileId)}` }));
    const people = await candidates(db, req.ctx.workspace!.id);
    const values = (model.values ?? {}) as Record<string, string>;
    await req.ctx.render(
      'signatures/new',
      {
        pdfs,
        rows: Array.from({ length: ROWS }, (_, i) => {
          const n = i + 1;
          const who = values[`s${n}_who`] ?? '';
          return {
            n,
            first: n === 1,
            ids: { who: `s${n}_who`, name: `s${n}_name`, email: `s${n}_email`, page: `s${n}_page`, x: `s${n}_x`, y: `s${n}_y` },
            people: people.map((p) => ({ value: `user:${p.userId}`, label: `${p.name} (${p.email})${p.role === 'staff' ? ', account team' : ''}`, selected: who === `user:${p.userId}` })),
            otherSelected: who === 'other',
            name: values[`s${n}_name`] ?? '',
            email: values[`s${n}_email`] ?? '',
            page: values[`s${n}_page`] ?? String(model.pageCount ?? 1),
            positions: [
              ...Object.entries(POSITIONS).map(([value, label]) => ({ value, label, selected: (values[`s${n}_position`] ?? (n % 2 ? 'bottom-left' : 'bottom-right')) === value })),
              // A place marked on the page: offered by the script when one is marked, and here when the form comes back with one.
              ...(values[`s${n}_position`] === CLICKED ? [{ value: CLICKED, label: 'Where I marked it on the page', selected: true }] : []),
            ],
            x: values[`s${n}_x`] ?? '',
            y: values[`s${n}_y`] ?? '',
            errors: {
              who: (model.errors as Record<string, string> | undefined)?.[`s${n}_who`],
              name: (model.errors as Record<string, string> | undefined)?.[`s${n}_name`],
              email: (model.errors as Record<string, string> | undefined)?.[`s${n}_email`],
              page: (model.errors as Record<string, string> | undefined)?.[`s${n}_page`],
            },
          };
        }),
        action: fileId ? `${base(req)}/new?file=${encodeURIComponent(fileId)}` : null,
        backHref: `${base(req)}/`,
        box: SIGNATURE_BOX,
        placementSrc: `${base(req)}/assets/placement.js`,
        nonce: req.ctx.nonce,
        ...model,
      },
      { title: 'Send for signature', status },
    );
  }

  workspace.get('/new', authorize('create', 'Envelope'), async (req, _res, next) => {
    const fileId = typeof req.query.file === 'string' ? req.query.file : '';
    if (!fileId) return newPage(req, { values: {} });
    const doc = await documentFor(req, fileId);
    if (!doc) return next(notFound());
    if ('problem' in doc) return newPage(req, { problem: doc.problem, values: {} }, 400);
    await newPage(req, { document: { name: doc.file.name, pages: doc.pages.length, versionNumber: doc.file.number, sha256: doc.file.sha256, internal: doc.file.area === 'internal' }, pageCount: doc.pages.length, view: await pagesView(req, doc.file), values: { title: doc.file.name.replace(/\.pdf$/i, ''), version: doc.file.versionId } });
  });

  /** The document's pages as images, to place each signature by clicking where it goes. */
  async function pagesView(req: Request, file: FileVersionInfo) {
    const pages = await files.pages(req.ctx.workspace!.id, file.fileId, file.versionId);
    return documentView(pages, { name: file.name, src: (n) => `${base(req)}/new/${encodeURIComponent(file.fileId)}/pages/${n}` });
  }

  // One page of the file's current version as an image, for the form above: to those who may send
  // (the same lookup as the form), with the download headers.
  workspace.get('/new/:fileId/pages/:page', authorize('create', 'Envelope'), async (req, res, next) => {
    const file = await files.describe(db, req.ctx.workspace!.id, String(req.params.fileId));
    const n = pageNumber(req.params.page);
    const image = file && n && file.contentType === 'application/pdf' && file.size <= settings.maxPdfBytes ? await files.pageImage(req.ctx.workspace!.id, file.fileId, file.versionId, n) : undefined;
    if (!image) return next(notFound());
    sendPageImage(res, pageImageName(file!.name, n!), image);
  });

  workspace.get('/assets/placement.js', authorize('create', 'Envelope'), (_req, res) => {
    res.type('application/javascript').setHeader('Cache-Control', 'no-store');
    res.send(PLACEMENT_SCRIPT);
  });

  workspace.post('/new', authorize('create', 'Envelope'), async (req, res, next) => {
    const fileId = typeof req.query.file === 'string' ? req.query.file : '';
    const doc = fileId ? await documentFor(req, fileId) : undefined;
    if (!doc) return next(notFound());
    const values = formBody(req.body) as Record<string, string>;
    if ('problem' in doc) return newPage(req, { problem: doc.problem, values }, 400);
    const documentModel = { name: doc.file.name, pages: doc.pages.length, versionNumber: doc.file.number, sha256: doc.file.sha256, internal: doc.file.area === 'internal' };
    const again = async (errors: Record<string, string>, status = 400) => newPage(req, { document: documentModel, pageCount: doc.pages.length, view: await pagesView(req, doc.file), errors, values }, status);

    // The strict form: only the fields this page renders.
    const shape: Record<string, z.ZodType> = { title: titleField, message: messageField, version: z.string().max(36) }; // not free text: version is an id, compared
    for (let n = 1; n <= ROWS; n++) {
      shape[`s${n}_who`] = z.string().max(50).optional().default(''); // not free text: 'user:<id>' or 'other', looked up below
      shape[`s${n}_name`] = z.string().max(1000).optional().default(''); // not free text: the name is checked with signerName (singleLine) row by row below
      shape[`s${n}_email`] = z.string().max(300).optional().default(''); // not free text: an address, checked by plainAddress below
      shape[`s${n}_page`] = z.string().max(10).optional().default(''); // not free text: a page number, checked below
      shape[`s${n}_position`] = z.string().max(20).optional().default(''); // not free text: one of POSITIONS or CLICKED, checked below
      shape[`s${n}_x`] = z.string().max(20).optional().default(''); // not free text: a number of points, checked by placementFor
      shape[`s${n}_y`] = z.string().max(20).optional().default(''); // not free text: a number of points, checked by placementFor
    }
    const parsed = z.strictObject(shape).safeParse(values);
    if (!parsed.success) return again(fieldErrors(parsed.error));
    const data = parsed.data as Record<string, string>;
    if (data.version !== doc.file.versionId) return again({ form: 'A new version of this file was uploaded while you prepared the envelope. Check the document below and send again.' }, 409);

    const people = new Map((await candidates(db, req.ctx.workspace!.id)).map((p) => [`user:${p.userId}`, p]));
    const errors: Record<string, string> = {};
    const signers: Parameters<typeof sendEnvelope>[1]['signers'] = [];
    const seen = new Set<string>();
    for (let n = 1; n <= ROWS; n++) {
      const who = data[`s${n}_who`]!;
      if (!who) continue;
      let person: { userId: string | null; name: string; email: string };
      if (who === 'other') {
        const named = signerName.safeParse(data[`s${n}_name`]);
        const name = named.success ? named.data : '';
        const email = data[`s${n}_email`]!.trim().toLowerCase();
        if (!named.success) errors[`s${n}_name`] = named.error.issues[0]!.message;
        if (!plainAddress(email)) errors[`s${n}_email`] = 'Enter a valid email address';
        person = { userId: null, name, email };
      } else {
        const p = people.get(who);
        if (!p) {
          errors[`s${n}_who`] = 'Choose someone from this workspace, or “Someone else”';
          continue;
        }
        person = { userId: p.userId, name: p.name, email: p.email.toLowerCase() };
      }
      if (seen.has(person.email)) errors[`s${n}_who`] = 'This person is already a signer above';
      seen.add(person.email);
      const pageNo = Number(data[`s${n}_page`]);
      // A preset, or the place marked on the page: checked against that page's size in points.
      const placed = Number.isInteger(pageNo) && pageNo >= 1 && pageNo <= doc.pages.length ? placementFor(data[`s${n}_position`]!, data[`s${n}_x`]!, data[`s${n}_y`]!, doc.pages[pageNo - 1]!, pageNo) : { problem: `Choose a page from 1 to ${doc.pages.length}` };
      if ('problem' in placed) {
        errors[`s${n}_page`] = placed.problem;
        continue;
      }
      if (errors[`s${n}_name`] || errors[`s${n}_email`] || errors[`s${n}_who`]) continue;
      signers.push({ ...person, page: pageNo, ...placed.rect });
    }
    if (!signers.length && !Object.keys(errors).length) errors.s1_who = 'Choose at least one signer';
    if (Object.keys(errors).length) return again(errors);

    const ws = req.ctx.workspace!;
    let id: string;
    try {
      id = await sendEnvelope(deps, { workspace: ws, title: data.title!, message: data.message ?? '', file: doc.file, bytes: doc.bytes, pageCount: doc.pages.length, signers, sender: actorOf(req.ctx.actor(), req.ctx.user!.name) });
    } catch (err) {
      if (err instanceof Refusal) return again({ form: err.message }, 409);
      throw err;
    }
    await req.ctx.flash('success', `Sent to ${signers[0]!.name}${signers.length > 1 ? `; ${signers.length - 1} more will be asked in order` : ''}.`);
    res.redirect(303, `${base(req)}/e/${id}`);
  });

  // ---- one envelope

  async function envelopePage(req: Request, env: EnvelopeRow, extra: Record<string, unknown> = {}, status = 200) {
    const signers = await signersOf(db, env);
    const events = await eventsOf(db, env);
    const names = new Map(signers.map((s) => [s.id, s.name]));
    const signed = env.signed_version_id ? await files.version(db, env.workspace_id, env.file_id, env.signed_version_id) : undefined;
    await req.ctx.render(
      'signatures/envelope',
      {
        envelope: {
          title: env.title,
          message: env.message,
          status: STATUS_LABELS[env.status] ?? env.status,
          statusKey: env.status,
          document: env.document_name,
          pages: env.page_count,
          sentAt: env.sent_at,
          finishedAt: env.finished_at,
          sha256Sent: env.sha256_sent,
          sha256Stamped: env.sha256_stamped,
          sha256Final: env.sha256_final,
          voidReason: env.void_reason,
          fileHref: `/w/${req.ctx.workspace!.slug}/files/f/${env.file_id}`,
          signedVersion: signed ? signed.number : null,
          open: env.status === 'sent',
        },
        signers: signers.map((s) => ({ position: s.position, name: s.name, email: s.email, status: SIGNER_LABELS[s.status] ?? s.status, signedAt: s.signed_at, kind: s.signature_kind, declineReason: s.decline_reason })),
        events: events.map((e) => ({ at: e.at, label: EVENT_LABELS[e.kind] ?? e.kind, who: e.signer_id ? `${names.get(e.signer_id) ?? ''}${e.actor_name !== names.get(e.signer_id) ? ` (by ${e.actor_name})` : ''}` : e.actor_name, ip: e.ip || '—', userAgent: e.user_agent || '—' })),
        actions: { void: `${base(req)}/e/${env.id}/void`, resend: `${base(req)}/e/${env.id}/resend` },
        canVoid: env.status === 'sent' && req.ctx.ability.can('void', 'Envelope'),
        canResend: env.status === 'sent' && req.ctx.ability.can('send', 'Envelope'),
        backHref: `${base(req)}/`,
        values: {},
        ...extra,
      },
      { title: env.title, status },
    );
  }

  workspace.get('/e/:envelopeId', authorize('read', 'Envelope'), async (req, _res, next) => {
    const env = await findEnvelope(req, String(req.params.envelopeId));
    if (!env) return next(notFound());
    await envelopePage(req, env);
  });

  workspace.post('/e/:envelopeId/void', authorize('void', 'Envelope'), async (req, res, next) => {
    const env = await findEnvelope(req, String(req.params.envelopeId), 'void');
    if (!env) return next(notFound());
    const parsed = voidForm.safeParse(formBody(req.body));
    if (!parsed.success) return envelopePage(req, env, { errors: fieldErrors(parsed.error), values: formBody(req.body) }, 400);
    if (env.status !== 'sent') return envelopePage(req, env, { errors: { reason: 'Only an envelope that is still out for signature can be voided' } }, 409);
    const ok = await voidEnvelope(deps, env, parsed.data.reason, actorOf(req.ctx.actor(), req.ctx.user!.name), req.ctx.workspace!);
    await req.ctx.flash(ok ? 'success' : 'error', ok ? 'The envelope was voided; its signing links no longer work.' : 'The envelope had already been finished.');
    res.redirect(303, `${base(req)}/e/${env.id}`);
  });

  workspace.post('/e/:envelopeId/resend', authorize('send', 'Envelope'), async (req, res, next) => {
    const env = await findEnvelope(req, String(req.params.envelopeId), 'send');
    if (!env) return next(notFound());
    if (!emptyForm.safeParse(formBody(req.body)).success) return envelopePage(req, env, { errors: { resend: 'Unexpected fields' } }, 400);
    const ok = await resend(deps, env, actorOf(req.ctx.actor(), req.ctx.user!.name), req.ctx.workspace!);
    await req.ctx.flash(ok ? 'success' : 'error', ok ? 'A new link was sent; the previous one no longer works.' : 'There is no one waiting to sign this envelope.');
    res.redirect(303, `${base(req)}/e/${env.id}`);
  });
}
