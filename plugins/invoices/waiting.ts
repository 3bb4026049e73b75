// "Waiting on you" for invoices (core/waiting.ts): issued invoices still to pay (issued, viewed,
// partly paid), for the client's people who may read invoices in that workspace, through the same
// row rule as the list (a draft is never theirs to read). The firm's own people (who may issue)
// are never asked to pay. Due dates order them: overdue first. One query across all workspaces.
import type { Db, WaitingProvider } from '../../core/index.ts';

/** Whoever is a member of the workspace: their items may have come or gone. */
async function membersOf(db: Db, p: { workspaceId: string }): Promise<string[]> {
  return ((await db('memberships').where({ workspace_id: p.workspaceId }).pluck('user_id')) as unknown[]).map(String);
}

export const invoicesWaiting: WaitingProvider = {
  id: 'invoices.pay',
  kind: 'Invoice',
  verb: 'Pay',
  query(db, person) {
    const firmSide = person.workspaceIds('issue', 'Invoice');
    return db('invoices_invoices as i')
      .whereIn('i.workspace_id', person.workspaceIds('read', 'Invoice'))
      .modify((q) => (firmSide.length ? q.whereNotIn('i.workspace_id', firmSide) : q))
      .modify(person.accessible('read', 'Invoice', { workspaceColumn: 'i.workspace_id', column: (f) => `i.${f}` }))
      .whereIn('i.status', ['issued', 'viewed', 'partially_paid'])
      .select('i.id', 'i.workspace_id', db.raw("'Invoice ' || i.number as title"), 'i.due_at', 'i.issued_at as since');
  },
  href: (row) => `/invoices/i/${row.id}`,
  changes: {
    'invoices.invoice.issued': membersOf,
    'invoices.invoice.voided': membersOf,
    'invoices.payment.recorded': membersOf,
    'invoices.creditNote.issued': membersOf,
  },
};
