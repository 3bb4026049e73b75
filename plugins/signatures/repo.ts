// Reads for the signatures plugin, always keyed by the workspace (the request's scope, or the
// link's workspace), and the row normalisation both databases need (bigint as string on pg).
import type { Request } from 'express';
import type { Knex } from 'knex';
import { accessibleBy, type Db, type Trx } from '../../core/index.ts';

export interface EnvelopeRow {
  id: string;
  workspace_id: string;
  title: string;
  message: string;
  file_id: string;
  version_id: string;
  document_name: string;
  document_size: number;
  sha256_sent: string;
  page_count: number;
  status: 'sent' | 'completed' | 'declined' | 'voided';
  created_by: string | null;
  created_at: number;
  sent_at: number;
  finished_at: number | null;
  signed_version_id: string | null;
  sha256_stamped: string | null;
  sha256_final: string | null;
  void_reason: string | null;
}

export interface SignerRow {
  id: string;
  workspace_id: string;
  envelope_id: string;
  position: number;
  user_id: string | null;
  name: string;
  email: string;
  status: 'waiting' | 'pending' | 'signed' | 'declined' | 'voided';
  link_id: string | null;
  consent_version: string | null;
  consent_sha256: string | null;
  consented_at: number | null;
  signature_kind: 'typed' | 'drawn' | null;
  signature_text: string | null;
  signature_png: string | null;
  sha256_at_signing: string | null;
  signed_at: number | null;
  decline_reason: string | null;
}

export interface PlacementRow {
  signer_id: string;
  page: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface EventRow {
  id: string;
  signer_id: string | null;
  kind: string;
  actor_name: string;
  at: number;
  ip: string;
  user_agent: string;
}

const num = (v: unknown) => (v == null ? null : Number(v));

export function normEnvelope(r: Record<string, unknown>): EnvelopeRow {
  return {
    ...(r as unknown as EnvelopeRow),
    document_size: Number(r.document_size),
    page_count: Number(r.page_count),
    created_at: Number(r.created_at),
    sent_at: Number(r.sent_at),
    finished_at: num(r.finished_at),
  };
}

export function normSigner(r: Record<string, unknown>): SignerRow {
  return { ...(r as unknown as SignerRow), position: Number(r.position), consented_at: num(r.consented_at), signed_at: num(r.signed_at) };
}

export const ENVELOPE_COLS = ['id', 'workspace_id', 'title', 'message', 'file_id', 'version_id', 'document_name', 'document_size', 'sha256_sent', 'page_count', 'status', 'created_by', 'created_at', 'sent_at', 'finished_at', 'signed_version_id', 'sha256_stamped', 'sha256_final', 'void_reason'];

/** Envelopes this request may `action`, through the workspace scope and the ability's SQL form. */
export function envelopesQuery(req: Request, action = 'read', trx?: Trx): Knex.QueryBuilder {
  const scope = trx ? req.ctx.scope!.in(trx) : req.ctx.scope!;
  return scope.table('signatures_envelopes').modify(accessibleBy(req.ctx.ability, action, 'Envelope'));
}

export async function findEnvelope(req: Request, id: string, action = 'read'): Promise<EnvelopeRow | undefined> {
  const r = (await envelopesQuery(req, action).where({ id }).first(ENVELOPE_COLS)) as Record<string, unknown> | undefined;
  return r ? normEnvelope(r) : undefined;
}

export async function signersOf(db: Db | Trx, env: Pick<EnvelopeRow, 'id' | 'workspace_id'>): Promise<SignerRow[]> {
  const rows = (await db('signatures_signers').where({ workspace_id: env.workspace_id, envelope_id: env.id }).orderBy('position')) as Array<Record<string, unknown>>;
  return rows.map(normSigner);
}

export async function placementsOf(db: Db | Trx, env: Pick<EnvelopeRow, 'id' | 'workspace_id'>): Promise<PlacementRow[]> {
  const rows = (await db('signatures_placements').where({ workspace_id: env.workspace_id, envelope_id: env.id }).select('signer_id', 'page', 'x', 'y', 'width', 'height')) as Array<Record<string, unknown>>;
  return rows.map((r) => ({ signer_id: String(r.signer_id), page: Number(r.page), x: Number(r.x), y: Number(r.y), width: Number(r.width), height: Number(r.height) }));
}

export async function eventsOf(db: Db | Trx, env: Pick<EnvelopeRow, 'id' | 'workspace_id'>): Promise<EventRow[]> {
  const rows = (await db('signatures_events').where({ workspace_id: env.workspace_id, envelope_id: env.id }).orderBy('seq').select('id', 'signer_id', 'kind', 'actor_name', 'at', 'ip', 'user_agent')) as Array<Record<string, unknown>>;
  return rows.map((r) => ({ id: String(r.id), signer_id: r.signer_id == null ? null : String(r.signer_id), kind: String(r.kind), actor_name: String(r.actor_name), at: Number(r.at), ip: String(r.ip), user_agent: String(r.user_agent) }));
}
