// Proof of service (evidence.ts) reads a workspace's signing events by time, a period at a time,
// in keyset pages: this index lets each page start where the last ended.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('signatures_events', (t) => {
    t.index(['workspace_id', 'at'], 'signatures_events_evidence_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('signatures_events', (t) => {
    t.dropIndex(['workspace_id', 'at'], 'signatures_events_evidence_index');
  });
}
