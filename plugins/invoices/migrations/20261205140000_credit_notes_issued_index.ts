// The period pack (pack.ts, ledger.ts) reads a workspace's credit notes by the time they were
// issued, a period at a time in keyset pages, and sums those before the period: this index keeps
// each of those a range read of one workspace, as 20261205120300_pack_indexes does for invoices.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoices_credit_notes', (t) => {
    t.index(['workspace_id', 'issued_at'], 'invoices_credit_notes_issued_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoices_credit_notes', (t) => {
    t.dropIndex(['workspace_id', 'issued_at'], 'invoices_credit_notes_issued_index');
  });
}
