// The signing workflow: send an envelope, record what each signer does (opened, consented,
// signed, declined), refuse a document changed after sending, and complete: stamp every
// signature, append the certificate, store the result as a new version of the file. Every state
// change is one transaction with its envelope event and its audit event. Links carry a token only
// in the mail that delivers them; nothing here stores, logs or returns a raw token except the URL
// handed straight to the outbox.
import type { Logger } from 'pino';
import { AtriumError, membersOf, newId, sha256Hex, transaction, type AuditEntry, type Db, type LinkService, type Token, type Tokens, type Trx } from '../../core/index.ts';
import type { FilesApi, FileVersionInfo } from '../files/api.ts';
import { CURRENT_CONSENT, consentHash } from './consent.ts';
import { PdfProblem, signedDocument, utc, type StampSignature } from './pdf.ts';
import { eventsOf, normEnvelope, normSigner, placementsOf, signersOf, type EnvelopeRow, type SignerRow } from './repo.ts';
import type { SignaturesSettings } from './settings.ts';

type Service<K extends keyof typeof Tokens> = (typeof Tokens)[K] extends Token<infer U> ? U : never;

export interface SignDeps {
  db: Db;
  audit: Service<'Audit'>;
  events: Service<'Events'>;
  mail: Service<'Mail'>;
  notifications: Service<'Notifications'>;
  /** The firm's name: who sends, who acts for the portal, and what a client sees instead of the product. */
  branding: Service<'Branding'>;
  links: LinkService;
  files: FilesApi;
  now: () => number;
  settings: SignaturesSettings;
  logger: Logger;
}

/** Who did something, from where: the envelope event and the audit entry take the same facts. */
export interface Actor {
  actorId: string | null;
  name: string;
  ip: string;
  userAgent: string;
}

export const actorOf = (a: Pick<AuditEntry, 'actorId' | 'ip' | 'userAgent'>, name: string): Actor => ({ actorId: a.actorId ?? null, name, ip: a.ip ?? '', userAgent: (a.userAgent ?? '').slice(0, 500) });

export type EventKind = 'created' | 'sent' | 'opened' | 'consented' | 'signed' | 'declined' | 'completed' | 'voided' | 'refused' | 'resent';

/** One envelope event and its audit entry, in `trx`. */
export async function record(
  deps: Pick<SignDeps, 'audit' | 'now'>,
  trx: Trx,
  env: { id: string; workspace_id: string },
  kind: EventKind,
  actor: Actor,
  opts: { signerId?: string | null; detail?: Record<string, unknown>; action: string; subjectType?: string; subjectId?: string },
): Promise<void> {
  const last = (await trx('signatures_events').where({ workspace_id: env.workspace_id, envelope_id: env.id }).max({ n: 'seq' }).first()) as { n: number | string | null } | undefined;
  await trx('signatures_events').insert({
    id: newId(),
    workspace_id: env.workspace_id,
    envelope_id: env.id,
    seq: Number(last?.n ?? 0) + 1,
    signer_id: opts.signerId ?? null,
    kind,
    actor_name: actor.name.slice(0, 200),
    at: deps.now(),
    ip: actor.ip.slice(0, 64),
    user_agent: actor.userAgent.slice(0, 500),
    detail: JSON.stringify(opts.detail ?? {}),
  });
  await deps.audit.record(trx, {
    actorId: actor.actorId,
    ip: actor.ip || null,
    userAgent: actor.userAgent || null,
    workspaceId: env.workspace_id,
    action: opts.action,
    subjectType: opts.subjectType ?? 'Envelope',
    subjectId: opts.subjectId ?? env.id,
    detail: { envelopeId: env.id, ...(opts.signerId ? { signerId: opts.signerId } : {}), ...(opts.detail ?? {}) },
  });
}

const ttl = (s: SignaturesSettings) => s.linkTtlDays * 86_400_000;

/** The firm's name (branding), read in `trx`. */
const firmName = async (deps: Pick<SignDeps, 'branding'>, trx: Trx | Db) => (await deps.branding.get(trx)).firmName;

/**
 * Issue a signer's link and mail it, in `trx`. The request is a direct mail (like an invitation,
 * it is always sent), not a notice: a notification would keep the raw link in the notifications
 * table, and a person whose notifications are off could never sign. The token exists only in
 * this mail; the signer row keeps the link's id. The sender is the firm's (only staff send), so
 * the mail names the firm, never the client's workspace.
 */
async function sendLink(deps: SignDeps, trx: Trx, env: EnvelopeRow, signer: SignerRow, sender: string, reminder = false): Promise<void> {
  await deps.links.revoke(trx, { plugin: 'signatures', subjectId: signer.id });
  const url = await deps.links.issue(trx, { plugin: 'signatures', purpose: 'sign', workspaceId: env.workspace_id, userId: signer.user_id, subjectId: signer.id, ttlMs: ttl(deps.settings) });
  const link = (await trx('links').where({ plugin: 'signatures', subject_id: signer.id }).whereNull('used_at').whereNull('revoked_at').orderBy('created_at', 'desc').first('id')) as { id: string } | undefined;
  await trx('signatures_signers').where({ workspace_id: env.workspace_id, id: signer.id }).update({ link_id: link?.id ?? null });
  const expires = utc(deps.now() + ttl(deps.settings));
  await deps.notifications.sendMail(trx, {
    to: signer.email,
    name: signer.name,
    subject: `${reminder ? 'Reminder: please' : 'Please'} sign: ${env.title}`.slice(0, 200),
    paragraphs: [`${sender} of ${await firmName(deps, trx)} ${reminder ? 'reminds you that they have asked' : 'asks'} you to review and sign "${env.title}" (${env.document_name}).`, ...(env.message ? [env.message] : [])],
    action: { label: 'Review and sign', url },
    after: [`This link is for you alone and works once, until ${expires}. Do not forward it. If you were not expecting this request, ignore this message.`],
    workspaceId: env.workspace_id,
  });
}

/** Tell people something that carries no secret: workspace members by notification, others by mail. */
async function tell(deps: SignDeps, trx: Trx, ws: { id: string; slug: string }, people: Array<{ userId: string | null; email: string; name: string; link?: string }>, subject: string, text: string): Promise<void> {
  const members = people.filter((p) => p.userId);
  await deps.notifications.notify(
    trx,
    members.map((p) => ({ userId: p.userId!, workspaceId: ws.id, kind: 'signatures.envelope', subject, text, link: p.link })),
  );
  for (const p of people.filter((x) => !x.userId)) {
    await deps.notifications.sendMail(trx, { to: p.email, name: p.name, subject, paragraphs: [text], workspaceId: ws.id });
  }
}

export interface NewEnvelope {
  workspace: { id: string; slug: string; name: string };
  title: string;
  message: string;
  file: FileVersionInfo;
  /** The bytes read when preparing (their SHA-256 is checked against the stored one). */
  bytes: Buffer;
  pageCount: number;
  signers: Array<{ userId: string | null; name: string; email: string; page: number; x: number; y: number; width: number; height: number }>;
  sender: Actor;
}

export class Refusal extends Error {
  constructor(
    message: string,
    readonly field = 'form',
  ) {
    super(message);
  }
}

/** Create and send an envelope in one transaction. Throws Refusal if the file changed meanwhile. */
export async function sendEnvelope(deps: SignDeps, e: NewEnvelope): Promise<string> {
  const id = newId();
  const sha = sha256Hex(e.bytes);
  if (sha !== e.file.sha256) throw new Refusal('The stored file does not match its recorded fingerprint; it cannot be sent for signature.');
  await transaction(deps.db, async (trx) => {
    const current = await deps.files.describe(trx, e.workspace.id, e.file.fileId);
    if (!current || current.versionId !== e.file.versionId) throw new Refusal('A new version of this file was uploaded while you prepared the envelope. Check the document and send again.');
    const now = deps.now();
    await trx('signatures_envelopes').insert({
      id,
      workspace_id: e.workspace.id,
      title: e.title,
      message: e.message,
      file_id: e.file.fileId,
      version_id: e.file.versionId,
      document_name: e.file.name,
      document_size: e.file.size,
      sha256_sent: sha,
      page_count: e.pageCount,
      status: 'sent',
      created_by: e.sender.actorId,
      created_at: now,
      sent_at: now,
      finished_at: null,
      signed_version_id: null,
      sha256_stamped: null,
      sha256_final: null,
      void_reason: null,
    });
    const env = { id, workspace_id: e.workspace.id };
    await record(deps, trx, env, 'created', e.sender, { action: 'signatures.envelope.create', detail: { title: e.title, fileId: e.file.fileId, versionId: e.file.versionId, signers: e.signers.length } });
    let first: SignerRow | undefined;
    for (const [i, s] of e.signers.entries()) {
      const signerId = newId();
      const row = {
        id: signerId,
        workspace_id: e.workspace.id,
        envelope_id: id,
        position: i + 1,
        user_id: s.userId,
        name: s.name,
        email: s.email,
        status: i === 0 ? 'pending' : 'waiting',
        link_id: null,
        consent_version: null,
        consent_sha256: null,
        consented_at: null,
        signature_kind: null,
        signature_text: null,
        signature_png: null,
        sha256_at_signing: null,
        signed_at: null,
        decline_reason: null,
      };
      await trx('signatures_signers').insert(row);
      await trx('signatures_placements').insert({ id: newId(), workspace_id: e.workspace.id, envelope_id: id, signer_id: signerId, page: s.page, x: s.x, y: s.y, width: s.width, height: s.height });
      if (i === 0) first = normSigner(row);
    }
    const envRow = normEnvelope((await trx('signatures_envelopes').where({ workspace_id: e.workspace.id, id }).first()) as Record<string, unknown>);
    await sendLink(deps, trx, envRow, first!, e.sender.name);
    await record(deps, trx, env, 'sent', e.sender, { signerId: first!.id, action: 'signatures.envelope.send', detail: { sha256: sha, to: first!.name, position: 1 } });
    deps.events.publish(trx, 'signatures.envelope.sent', { workspaceId: e.workspace.id, envelopeId: id });
  });
  return id;
}

async function senderName(trx: Trx | Db, env: EnvelopeRow): Promise<{ name: string; email: string; id: string | null }> {
  const u = env.created_by ? ((await trx('users').where({ id: env.created_by }).first('id', 'name', 'email')) as { id: string; name: string; email: string } | undefined) : undefined;
  return u ? { id: u.id, name: u.name, email: u.email } : { id: null, name: 'The sender', email: '' };
}

/** The signer and envelope a resolved link is for, or undefined (not pending, envelope closed). */
export async function signingContext(db: Db | Trx, link: { id: string; workspaceId: string; subjectId: string; purpose: string }): Promise<{ env: EnvelopeRow; signer: SignerRow } | undefined> {
  if (link.purpose !== 'sign') return undefined;
  const s = (await db('signatures_signers').where({ workspace_id: link.workspaceId, id: link.subjectId }).first()) as Record<string, unknown> | undefined;
  if (!s) return undefined;
  const signer = normSigner(s);
  // The link must be the one this signer holds now (a resent link revokes the older one anyway).
  if (signer.link_id !== link.id || signer.status !== 'pending') return undefined;
  const e = (await db('signatures_envelopes').where({ workspace_id: link.workspaceId, id: signer.envelope_id }).first()) as Record<string, unknown> | undefined;
  if (!e) return undefined;
  const env = normEnvelope(e);
  if (env.status !== 'sent') return undefined;
  return { env, signer };
}

/** First open of the signing page (later opens are not repeated on the certificate). */
export async function recordOpened(deps: SignDeps, env: EnvelopeRow, signer: SignerRow, actor: Actor): Promise<void> {
  const seen = await deps.db('signatures_events').where({ workspace_id: env.workspace_id, envelope_id: env.id, signer_id: signer.id, kind: 'opened' }).first('id');
  if (seen) return;
  await transaction(deps.db, (trx) => record(deps, trx, env, 'opened', actor, { signerId: signer.id, action: 'signatures.signer.open', subjectType: 'EnvelopeSigner', subjectId: signer.id }));
}

export async function recordConsent(deps: SignDeps, env: EnvelopeRow, signer: SignerRow, actor: Actor): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const n = await trx('signatures_signers')
      .where({ workspace_id: env.workspace_id, id: signer.id, status: 'pending' })
      .whereNull('consented_at')
      .update({ consent_version: CURRENT_CONSENT.version, consent_sha256: consentHash(CURRENT_CONSENT), consented_at: deps.now() });
    if (!n) return; // consented already (a second tab): nothing new to record
    await record(deps, trx, env, 'consented', actor, {
      signerId: signer.id,
      action: 'signatures.signer.consent',
      subjectType: 'EnvelopeSigner',
      subjectId: signer.id,
      detail: { consentVersion: CURRENT_CONSENT.version, consentSha256: consentHash(CURRENT_CONSENT) },
    });
  });
}

/**
 * Is the document still exactly what was sent? The file's current version must be the version
 * sent, and the SHA-256 of its stored bytes (decrypted and authenticated now) must equal the hash
 * recorded at sending. Returns null when it is, else the reason.
 */
export async function documentChanged(deps: SignDeps, db: Db | Trx, env: EnvelopeRow): Promise<{ reason: string; detail: Record<string, unknown> } | null> {
  const current = await deps.files.describe(db, env.workspace_id, env.file_id);
  if (!current) return { reason: 'The document is no longer available: it was deleted after it was sent.', detail: { problem: 'file-missing' } };
  if (current.versionId !== env.version_id) return { reason: 'The document was changed after it was sent (a new version was uploaded), so it can no longer be signed. Ask the sender to send it again.', detail: { problem: 'new-version', currentVersionId: current.versionId } };
  let sha: string;
  try {
    sha = sha256Hex(await deps.files.readVersion(env.workspace_id, env.file_id, env.version_id, { db }));
  } catch (err) {
    deps.logger.warn({ err, envelope: env.id }, 'signature refused: the stored document failed its integrity check');
    return { reason: 'The stored document no longer matches what was sent, so it cannot be signed. The sender has been told.', detail: { problem: 'integrity' } };
  }
  if (sha !== env.sha256_sent) return { reason: 'The stored document no longer matches what was sent, so it cannot be signed. The sender has been told.', detail: { problem: 'hash-mismatch', sha256: sha } };
  return null;
}

/** Record a refused signature (document changed) and tell the sender. */
export async function recordRefusal(deps: SignDeps, env: EnvelopeRow, signer: SignerRow, actor: Actor, why: { reason: string; detail: Record<string, unknown> }, ws: { id: string; slug: string }): Promise<void> {
  await transaction(deps.db, async (trx) => {
    await record(deps, trx, env, 'refused', actor, { signerId: signer.id, action: 'signatures.signer.refuse', subjectType: 'EnvelopeSigner', subjectId: signer.id, detail: { ...why.detail, sha256Sent: env.sha256_sent } });
    const sender = await senderName(trx, env);
    if (sender.id) {
      await tell(deps, trx, ws, [{ userId: sender.id, email: sender.email, name: sender.name, link: `/w/${ws.slug}/signatures/e/${env.id}` }], `Signing stopped: ${env.title}`, `${signer.name} could not sign "${env.title}": the document was changed after it was sent. Void the envelope and send the current document again.`);
    }
  });
}

export interface SignatureInput {
  kind: 'typed' | 'drawn';
  text: string | null;
  png: Buffer | null;
}

/**
 * Sign, in one transaction: consume the link, record the signature, then either send the next
 * signer their link or complete the envelope. Returns what happened, or 'gone' when the link was
 * used meanwhile (a double submit).
 */
export async function sign(deps: SignDeps, linkId: string, env: EnvelopeRow, signer: SignerRow, sig: SignatureInput, actor: Actor, ws: { id: string; slug: string; name: string }): Promise<'gone' | 'next' | 'completed' | { refused: string }> {
  return transaction(deps.db, async (trx) => {
    // Checked again inside the transaction, with the same bytes the stamp will use.
    const changed = await documentChanged(deps, trx, env);
    if (changed) return { refused: changed.reason };
    if (!(await deps.links.consume(trx, linkId))) return 'gone';
    const now = deps.now();
    const n = await trx('signatures_signers')
      .where({ workspace_id: env.workspace_id, id: signer.id, status: 'pending' })
      .whereNotNull('consented_at')
      .update({ status: 'signed', signature_kind: sig.kind, signature_text: sig.text, signature_png: sig.png ? sig.png.toString('base64') : null, sha256_at_signing: env.sha256_sent, signed_at: now });
    if (!n) return 'gone';
    await record(deps, trx, env, 'signed', actor, { signerId: signer.id, action: 'signatures.signer.sign', subjectType: 'EnvelopeSigner', subjectId: signer.id, detail: { kind: sig.kind, position: signer.position, sha256: env.sha256_sent } });
    deps.events.publish(trx, 'signatures.signer.signed', { workspaceId: env.workspace_id, envelopeId: env.id, signerId: signer.id });
    const next = (await trx('signatures_signers').where({ workspace_id: env.workspace_id, envelope_id: env.id, status: 'waiting' }).orderBy('position').first()) as Record<string, unknown> | undefined;
    const sender = await senderName(trx, env);
    if (next) {
      const nextSigner = normSigner(next);
      await trx('signatures_signers').where({ workspace_id: env.workspace_id, id: nextSigner.id }).update({ status: 'pending' });
      await sendLink(deps, trx, env, nextSigner, sender.name);
      // Sent by the portal, in the firm's name (never the product's: a white-labelled portal).
      await record(deps, trx, env, 'sent', { actorId: null, name: `${await firmName(deps, trx)} (signing order)`, ip: '', userAgent: '' }, { signerId: nextSigner.id, action: 'signatures.envelope.send', detail: { to: nextSigner.name, position: nextSigner.position } });
      return 'next';
    }
    await complete(deps, trx, env, ws, sender);
    return 'completed';
  });
}

/** Every signer has signed: stamp, certify, store as a new version, notify everyone. */
async function complete(deps: SignDeps, trx: Trx, env: EnvelopeRow, ws: { id: string; slug: string; name: string }, sender: { id: string | null; name: string; email: string }): Promise<void> {
  const now = deps.now();
  const original = await deps.files.readVersion(env.workspace_id, env.file_id, env.version_id, { db: trx, maxBytes: deps.settings.maxPdfBytes });
  const signers = await signersOf(trx, env);
  const placements = await placementsOf(trx, env);
  const bySigner = new Map(signers.map((s) => [s.id, s]));
  const stamps: StampSignature[] = placements.map((p) => {
    const s = bySigner.get(p.signer_id)!;
    return { signerId: s.id, page: p.page, x: p.x, y: p.y, width: p.width, height: p.height, name: s.name, kind: s.signature_kind === 'drawn' ? 'drawn' : 'typed', text: s.signature_text, png: s.signature_png ? Buffer.from(s.signature_png, 'base64') : null, signedAt: s.signed_at ?? now };
  });
  const events = await eventsOf(trx, env);
  const names = new Map(signers.map((s) => [s.id, s.name]));
  // A drawn signature whose stored image cannot be decoded does not stop completion: signedDocument
  // stamps the signer's name in its place and says so on the certificate (why: see stamp() in
  // pdf.ts). Images are decoded when they are received, so only a row saved before that rule can
  // hold one; the sender is told and the audit event names the signer.
  let result: Awaited<ReturnType<typeof signedDocument>>;
  try {
    result = await signedDocument(
      original,
      stamps,
      {
        envelopeId: env.id,
        title: env.title,
        documentName: env.document_name,
        sentBy: sender.email ? `${sender.name} <${sender.email}>` : sender.name,
        sha256Sent: env.sha256_sent,
        signers: signers.map((s) => ({ position: s.position, name: s.name, email: s.email, signedAt: s.signed_at ?? now, kind: s.signature_kind ?? 'typed', consentVersion: s.consent_version ?? '', consentSha256: s.consent_sha256 ?? '', sha256AtSigning: s.sha256_at_signing ?? '' })),
        events: [
          ...events.map((e) => ({ at: e.at, kind: e.kind, who: e.signer_id ? `${names.get(e.signer_id) ?? e.actor_name}${e.actor_name !== names.get(e.signer_id) ? ` (by ${e.actor_name})` : ''}` : e.actor_name, ip: e.ip, userAgent: e.user_agent })),
          { at: now, kind: 'completed', who: await firmName(deps, trx), ip: '', userAgent: '', note: 'All signers signed; this signed version was generated.' },
        ],
      },
    );
  } catch (err) {
    if (err instanceof PdfProblem) throw new AtriumError('ATR_VALIDATION', err.message, { status: 409 });
    throw err;
  }
  const unreadable = result.unreadable;
  if (unreadable.length) deps.logger.warn({ envelope: env.id, signers: unreadable.map((u) => u.signerId) }, 'signatures: a stored drawn signature could not be decoded; the signer\'s name was stamped instead');
  const version = await deps.files.addVersion(trx, { workspaceId: env.workspace_id, fileId: env.file_id, bytes: result.bytes, contentType: 'application/pdf', actor: { actorId: null, ip: null, userAgent: null }, detail: { via: 'signatures', envelopeId: env.id } });
  await trx('signatures_envelopes').where({ workspace_id: env.workspace_id, id: env.id }).update({ status: 'completed', finished_at: now, signed_version_id: version.versionId, sha256_stamped: result.sha256Stamped, sha256_final: version.sha256 });
  await record(deps, trx, env, 'completed', { actorId: null, name: await firmName(deps, trx), ip: '', userAgent: '' }, {
    action: 'signatures.envelope.complete',
    detail: {
      sha256Sent: env.sha256_sent,
      sha256Stamped: result.sha256Stamped,
      sha256Final: version.sha256,
      signedVersionId: version.versionId,
      versionNumber: version.number,
      pages: result.pages,
      ...(unreadable.length ? { unreadableSignatures: unreadable.map((u) => ({ signerId: u.signerId, imageSha256: u.sha256 })) } : {}),
    },
  });
  deps.events.publish(trx, 'signatures.envelope.completed', { workspaceId: env.workspace_id, envelopeId: env.id, versionId: version.versionId });
  // The sender is told through their notifications; each signer gets their own copy link by
  // mail (a download-only link, never consumed, valid for copyTtlDays): like the request, it is
  // always sent and carries a token, so it goes straight to the outbox.
  if (sender.id) {
    const note = unreadable.length
      ? ` The drawn signature image of ${unreadable.map((u) => u.name).join(', ')} could not be read, so their name is shown in its place; the certificate page says so.`
      : '';
    await tell(deps, trx, ws, [{ userId: sender.id, email: sender.email, name: sender.name, link: `/w/${ws.slug}/signatures/e/${env.id}` }], `Signed by everyone: ${env.title}`, `Everyone has signed "${env.title}". The signed document, with its certificate page, is version ${version.number} of ${env.document_name}. Its SHA-256 is ${version.sha256}.${note}`);
  }
  const expires = utc(now + deps.settings.copyTtlDays * 86_400_000);
  // One mail per person: a sender who also signed has just been told above, and keeps the signed
  // document in the portal (they are the firm's), so they get no second mail with a copy link.
  for (const s of signers.filter((x) => !(sender.id && x.user_id === sender.id))) {
    const url = await deps.links.issue(trx, { plugin: 'signatures', purpose: 'copy', workspaceId: env.workspace_id, userId: s.user_id, subjectId: s.id, ttlMs: deps.settings.copyTtlDays * 86_400_000 });
    await deps.notifications.sendMail(trx, {
      to: s.email,
      name: s.name,
      subject: `Signed by everyone: ${env.title}`.slice(0, 200),
      paragraphs: [`Everyone has signed "${env.title}" (${env.document_name}). The signed document carries every signature and a certificate page listing each step.`],
      action: { label: 'Download your copy', url },
      after: [`This link is for you alone and works until ${expires}. The signed file's SHA-256 is ${version.sha256}.`],
      workspaceId: env.workspace_id,
    });
  }
}

/** The signer and completed envelope a copy link is for, or undefined. */
export async function copyContext(db: Db | Trx, link: { workspaceId: string; subjectId: string; purpose: string }): Promise<{ env: EnvelopeRow; signer: SignerRow } | undefined> {
  if (link.purpose !== 'copy') return undefined;
  const s = (await db('signatures_signers').where({ workspace_id: link.workspaceId, id: link.subjectId }).first()) as Record<string, unknown> | undefined;
  if (!s) return undefined;
  const signer = normSigner(s);
  const e = (await db('signatures_envelopes').where({ workspace_id: link.workspaceId, id: signer.envelope_id }).first()) as Record<string, unknown> | undefined;
  if (!e) return undefined;
  const env = normEnvelope(e);
  if (env.status !== 'completed' || !env.signed_version_id || signer.status !== 'signed') return undefined;
  return { env, signer };
}

export async function decline(deps: SignDeps, linkId: string, env: EnvelopeRow, signer: SignerRow, reason: string, actor: Actor, ws: { id: string; slug: string }): Promise<boolean> {
  return transaction(deps.db, async (trx) => {
    if (!(await deps.links.consume(trx, linkId))) return false;
    const n = await trx('signatures_signers').where({ workspace_id: env.workspace_id, id: signer.id, status: 'pending' }).update({ status: 'declined', decline_reason: reason });
    if (!n) return false;
    const now = deps.now();
    await trx('signatures_envelopes').where({ workspace_id: env.workspace_id, id: env.id, status: 'sent' }).update({ status: 'declined', finished_at: now });
    await trx('signatures_signers').where({ workspace_id: env.workspace_id, envelope_id: env.id, status: 'waiting' }).update({ status: 'voided' });
    await record(deps, trx, env, 'declined', actor, { signerId: signer.id, action: 'signatures.signer.decline', subjectType: 'EnvelopeSigner', subjectId: signer.id, detail: { reason } });
    deps.events.publish(trx, 'signatures.envelope.declined', { workspaceId: env.workspace_id, envelopeId: env.id });
    const sender = await senderName(trx, env);
    const signers = await signersOf(trx, env);
    const people = [
      ...(sender.id ? [{ userId: sender.id, email: sender.email, name: sender.name, link: `/w/${ws.slug}/signatures/e/${env.id}` }] : []),
      ...signers.filter((s) => s.status === 'signed' && s.user_id !== sender.id).map((s) => ({ userId: s.user_id, email: s.email, name: s.name })),
    ];
    await tell(deps, trx, ws, people, `Declined: ${env.title}`, `${signer.name} declined to sign "${env.title}". Reason given: ${reason}`);
    return true;
  });
}

export async function voidEnvelope(deps: SignDeps, env: EnvelopeRow, reason: string, actor: Actor, ws: { id: string; slug: string }): Promise<boolean> {
  return transaction(deps.db, async (trx) => {
    const n = await trx('signatures_envelopes').where({ workspace_id: env.workspace_id, id: env.id, status: 'sent' }).update({ status: 'voided', finished_at: deps.now(), void_reason: reason || null });
    if (!n) return false;
    const signers = await signersOf(trx, env);
    for (const s of signers) await deps.links.revoke(trx, { plugin: 'signatures', subjectId: s.id });
    await trx('signatures_signers').where({ workspace_id: env.workspace_id, envelope_id: env.id }).whereIn('status', ['pending', 'waiting']).update({ status: 'voided' });
    await record(deps, trx, env, 'voided', actor, { action: 'signatures.envelope.void', detail: { reason } });
    deps.events.publish(trx, 'signatures.envelope.voided', { workspaceId: env.workspace_id, envelopeId: env.id });
    // Those who already had the document in hand (signed, or holding a link) are told.
    const told = signers.filter((s) => s.status === 'signed' || s.status === 'pending').filter((s) => s.user_id !== actor.actorId);
    await tell(deps, trx, ws, told.map((s) => ({ userId: s.user_id, email: s.email, name: s.name })), `Cancelled: ${env.title}`, `The request to sign "${env.title}" was cancelled by the sender${reason ? `: ${reason}` : '.'} Any signing link you received no longer works.`);
    return true;
  });
}

/** Send the current signer a fresh link (the old one stops working). */
export async function resend(deps: SignDeps, env: EnvelopeRow, actor: Actor, ws: { id: string; slug: string; name: string }): Promise<boolean> {
  return transaction(deps.db, async (trx) => {
    const s = (await trx('signatures_signers').where({ workspace_id: env.workspace_id, envelope_id: env.id, status: 'pending' }).first()) as Record<string, unknown> | undefined;
    const fresh = (await trx('signatures_envelopes').where({ workspace_id: env.workspace_id, id: env.id }).first('status')) as { status: string } | undefined;
    if (!s || fresh?.status !== 'sent') return false;
    const signer = normSigner(s);
    await sendLink(deps, trx, env, signer, actor.name, true);
    await record(deps, trx, env, 'resent', actor, { signerId: signer.id, action: 'signatures.envelope.resend', detail: { to: signer.name, position: signer.position } });
    return true;
  });
}

/** The workspace's people who can be chosen as signers (clients and the account team). */
export async function candidates(db: Db, workspaceId: string) {
  const people = [...(await membersOf(db, workspaceId, { staff: false, limit: 500 })), ...(await membersOf(db, workspaceId, { staff: true, limit: 500 }))];
  return people.map((p) => ({ userId: p.userId, name: p.name, email: p.email, role: p.role }));
}
