// Proof of service from signatures (the kernel's contract in core/evidence.ts): each signature,
// each refusal to sign and each document signed by everyone, in a period, from the envelope's
// own record of events. Only envelopes sent to someone of the client (a signer who is not on the
// firm's staff) count: a document the firm's people signed among themselves is internal, whoever
// asks. Paged on the events' (workspace_id, at) index.
import { afterKey, pagedByTime, Tokens, type EvidenceProvider, type PluginContext, type TimeKey } from '../../core/index.ts';

type Row = { id: string; at: number | string; kind: string; title: string; document_name: string; signer: string | null; actor_name: string };
const KINDS: Record<string, string> = { signed: 'Signed', declined: 'Declined to sign', completed: 'Signed by everyone' };

export const signaturesEvidence: EvidenceProvider = {
  id: 'signatures.decisions',
  label: 'Signatures',
  items: (db, q) =>
    pagedByTime(
      (after: TimeKey | null, limit: number) =>
        db('signatures_events as e')
          .join('signatures_envelopes as env', function () {
            this.on('env.id', '=', 'e.envelope_id').andOn('env.workspace_id', '=', 'e.workspace_id');
          })
          .leftJoin('signatures_signers as s', function () {
            this.on('s.id', '=', 'e.signer_id').andOn('s.workspace_id', '=', 'e.workspace_id');
          })
          .where('e.workspace_id', q.workspaceId)
          .where('e.at', '>=', q.from)
          .where('e.at', '<', q.to)
          .whereIn('e.kind', Object.keys(KINDS))
          .whereExists(
            db('signatures_signers as c')
              .leftJoin('users as cu', 'cu.id', 'c.user_id')
              .whereRaw('c.envelope_id = env.id')
              .whereRaw('c.workspace_id = env.workspace_id')
              .where((w) => w.whereNull('c.user_id').orWhereNull('cu.firm_role'))
              .select(db.raw('1')),
          )
          .modify(afterKey('e.at', 'e.id', after))
          .orderBy('e.at')
          .orderBy('e.id')
          .limit(limit)
          .select('e.id', 'e.at', 'e.kind', 'env.title', 'env.document_name', 's.name as signer', 'e.actor_name') as Promise<Row[]>,
      (r) => ({ at: Number(r.at), id: String(r.id) }),
      (r) => ({
        workspaceId: q.workspaceId,
        at: Number(r.at),
        kind: KINDS[r.kind] ?? r.kind,
        title: r.title,
        detail: r.document_name,
        who: r.kind === 'completed' ? '' : (r.signer ?? r.actor_name),
      }),
    ),
};

/** From the signatures plugin's `register`. */
export function registerEvidence(ctx: PluginContext): void {
  ctx.container.resolve(Tokens.Evidence).register('signatures', signaturesEvidence);
}
