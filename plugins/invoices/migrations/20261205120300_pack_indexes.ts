// The period pack (pack.ts, ledger.ts) reads a workspace's invoices by the time they were issued
// and its payments by the day they were received, a period at a time, in keyset pages, and sums
// what came before the period: these indexes keep each of those a range read of one workspace.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoices_invoices', (t) => {
    t.index(['workspace_id', 'issued_at'], 'invoices_invoices_issued_index');
  });
  await knex.schema.alterTable('invoices_payments', (t) => {
    t.index(['workspace_id', 'received_at'], 'invoices_payments_received_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoices_payments', (t) => {
    t.dropIndex(['workspace_id', 'received_at'], 'invoices_payments_received_index');
  });
  await knex.schema.alterTable('invoices_invoices', (t) => {
    t.dropIndex(['workspace_id', 'issued_at'], 'invoices_invoices_issued_index');
  });
}
