// "Waiting on you" for approvals (core/waiting.ts): the requests waiting for this person's
// decision, in every workspace where their role may decide, by the same rule as the request list
// (`awaitingUser`: pending, asked of them, not yet answered this round, their turn). A client is
// only ever asked about subjects shared with clients; staff (who may create requests) see theirs
// whatever the subject. One query across all the person's workspaces.
import type { Db, WaitingProvider } from '../../core/index.ts';
import { awaitingUser } from './repo.ts';

/** Everyone asked on a request: their items may have come or gone with any change to it. */
async function approversOf(db: Db, p: { workspaceId: string; requestId: string }): Promise<string[]> {
  return ((await db('approvals_approvers').where({ workspace_id: p.workspaceId, request_id: p.requestId }).pluck('user_id')) as unknown[]).map(String);
}

export const approvalsWaiting: WaitingProvider = {
  id: 'approvals.decide',
  kind: 'Approval',
  verb: 'Approve',
  query(db, person) {
    const seesInternal = person.workspaceIds('create', 'Approval');
    const q = db('approvals_requests as r')
      .whereIn('r.workspace_id', person.workspaceIds('decide', 'Approval'))
      .modify(person.accessible('decide', 'Approval', { workspaceColumn: 'r.workspace_id', column: (f) => `r.${f}` }))
      .where(function () {
        this.where('r.client_visible', true);
        if (seesInternal.length) this.orWhereIn('r.workspace_id', seesInternal);
      });
    return awaitingUser(q, person.userId).select('r.id', 'r.workspace_id', 'r.title', 'r.due_at', 'r.round_opened_at as since');
  },
  href: (row) => `/approvals/r/${row.id}`,
  changes: {
    'approvals.request.created': approversOf,
    'approvals.request.reopened': approversOf,
    'approvals.request.closed': approversOf,
    // In parallel, one approver's decision changes only their own items (the others are still
    // asked; a decision that closes the round also sends 'closed', which recounts everyone). In
    // sequence, it hands the request to the next approver: everyone asked.
    'approvals.decision.recorded': (db, p: { workspaceId: string; requestId: string; userId: string; sequence?: string }) => (p.sequence === 'parallel' ? [p.userId] : approversOf(db, p)),
  },
};
