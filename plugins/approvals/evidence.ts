// Proof of service from approvals (the kernel's contract in core/evidence.ts): every decision
// recorded in a period on a request shared with the client (approved, or changes asked for; an
// approval by the agreed due-date rule says so). Requests internal to the firm never reach it,
// whoever asks. Paged on the decisions' (workspace_id, created_at) index.
import { afterKey, pagedByTime, Tokens, type EvidenceProvider, type PluginContext, type TimeKey } from '../../core/index.ts';

type Row = { id: string; at: number | string; title: string; subject_title: string; version_number: number | string; decision: string; via: string; who: string | null };

export const approvalsEvidence: EvidenceProvider = {
  id: 'approvals.decisions',
  label: 'Approvals',
  items: (db, q) =>
    pagedByTime(
      (after: TimeKey | null, limit: number) =>
        db('approvals_decisions as d')
          .join('approvals_requests as r', function () {
            this.on('r.id', '=', 'd.request_id').andOn('r.workspace_id', '=', 'd.workspace_id');
          })
          .leftJoin('users as u', 'u.id', 'd.decided_by')
          .where('d.workspace_id', q.workspaceId)
          .where('d.created_at', '>=', q.from)
          .where('d.created_at', '<', q.to)
          .where('r.client_visible', true)
          .modify(afterKey('d.created_at', 'd.id', after))
          .orderBy('d.created_at')
          .orderBy('d.id')
          .limit(limit)
          .select('d.id', 'd.created_at as at', 'r.title', 'r.subject_title', 'd.version_number', 'd.decision', 'd.via', 'u.name as who') as Promise<Row[]>,
      (r) => ({ at: Number(r.at), id: String(r.id) }),
      (r) => ({
        workspaceId: q.workspaceId,
        at: Number(r.at),
        kind: r.decision === 'approved' ? 'Approved' : 'Changes requested',
        title: r.title,
        detail: `${r.subject_title}, version ${Number(r.version_number)}${r.via === 'rule' ? ' (approved by the agreed rule: no answer by the due date)' : ''}`,
        who: r.via === 'rule' ? '' : (r.who ?? ''),
      }),
    ),
};

/** From the approvals plugin's `register`. */
export function registerEvidence(ctx: PluginContext): void {
  ctx.container.resolve(Tokens.Evidence).register('approvals', approvalsEvidence);
}
