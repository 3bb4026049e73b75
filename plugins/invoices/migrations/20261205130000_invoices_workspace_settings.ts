// Plugin `invoices`: each workspace's own defaults for new drafts (currency, payment terms, tax
// mode and rate, notes and terms). A NULL column means "the firm's setting from the configuration
// file"; one row per workspace at most. Also an index for the client list's period filter (issue
// date within a workspace).
import type { Knex } from 'knex';
import { workspaceOwned } from '../../../core/index.ts';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('invoices_settings', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    t.unique(['workspace_id']);
    t.string('currency', 3).nullable();
    t.integer('terms_days').nullable();
    t.string('tax_mode', 10).nullable(); // exclusive | inclusive
    t.integer('default_tax_rate').nullable(); // basis points
    t.text('notes').nullable();
    t.text('terms').nullable();
    t.string('updated_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('updated_at').notNullable();
  });
  await knex.schema.alterTable('invoices_invoices', (t) => {
    t.index(['workspace_id', 'issued_at'], 'invoices_invoices_workspace_issued_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoices_invoices', (t) => {
    t.dropIndex(['workspace_id', 'issued_at'], 'invoices_invoices_workspace_issued_idx');
  });
  await knex.schema.dropTable('invoices_settings');
}
