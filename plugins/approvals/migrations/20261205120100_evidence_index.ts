// Proof of service (evidence.ts) reads a workspace's decisions by time, a period at a time, in
// keyset pages: this index lets each page start where the last ended.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('approvals_decisions', (t) => {
    t.index(['workspace_id', 'created_at'], 'approvals_decisions_evidence_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('approvals_decisions', (t) => {
    t.dropIndex(['workspace_id', 'created_at'], 'approvals_decisions_evidence_index');
  });
}
