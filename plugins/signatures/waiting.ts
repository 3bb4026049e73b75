// "Waiting on you" for signatures (core/waiting.ts): envelopes out for signature where the person
// is the current signer with an account (matched by user id, never by email), in every workspace
// where their role may sign their own request (`sign SignatureRequest`: user_id = the person,
// status pending; the rule's SQL form is applied per workspace). The item leads to the portal's
// signing page (portal.ts), which needs no mail. One query across all the person's workspaces.
import type { Knex } from 'knex';
import type { Db, WaitingProvider } from '../../core/index.ts';

/** Every signer with an account on the envelope: whose turn it is changes with each step. */
async function signersOf(db: Db, p: { workspaceId: string; envelopeId: string }): Promise<string[]> {
  return ((await db('signatures_signers').where({ workspace_id: p.workspaceId, envelope_id: p.envelopeId }).whereNotNull('user_id').pluck('user_id')) as unknown[]).map(String);
}

export const signaturesWaiting: WaitingProvider = {
  id: 'signatures.sign',
  kind: 'Signature',
  verb: 'Sign',
  query(db, person) {
    return db('signatures_signers as s')
      .join('signatures_envelopes as e', function (this: Knex.JoinClause) {
        this.on('e.id', '=', 's.envelope_id').andOn('e.workspace_id', '=', 's.workspace_id');
      })
      .whereIn('s.workspace_id', person.workspaceIds('sign', 'SignatureRequest'))
      .modify(person.accessible('sign', 'SignatureRequest', { workspaceColumn: 's.workspace_id', column: (f) => `s.${f}` }))
      // The rule says the same; said here too, so the list never depends on a grant's wording.
      .where('s.user_id', person.userId)
      .where('s.status', 'pending')
      .where('e.status', 'sent')
      // Envelopes have no due date: undated items follow the dated ones, oldest first.
      .select('s.id', 's.workspace_id', 'e.title', db.raw('cast(null as bigint) as due_at'), 'e.sent_at as since');
  },
  href: (row) => `/signatures/sign/${row.id}/`,
  changes: {
    'signatures.envelope.sent': signersOf,
    'signatures.signer.signed': signersOf,
    'signatures.envelope.completed': signersOf,
    'signatures.envelope.declined': signersOf,
    'signatures.envelope.voided': signersOf,
  },
};
