// Online payment (core/payments.ts): which providers each workspace may pay through, every
// checkout a client started (what was asked, at which provider, and how it ended), and on each
// payment the provider and its reference, UNIQUE together so a provider's confirmation replayed
// or delivered twice can never record a second payment; a refund made through the provider
// names the payment it returns.
import type { Knex } from 'knex';
import { workspaceOwned, workspaceChild } from '../../../core/index.ts';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('invoices_payment_methods', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    t.string('provider', 40).notNullable(); // a registered provider's id (`stripe`)
    t.string('enabled_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('enabled_at').notNullable();
    t.unique(['workspace_id', 'provider']);
  });
  await knex.schema.createTable('invoices_checkouts', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'invoice_id', 'invoices_invoices');
    t.string('provider', 40).notNullable();
    t.string('provider_ref', 255).notNullable(); // the provider's id of the checkout (a Stripe session id)
    t.text('url').notNullable(); // where the person pays, at the provider
    t.bigInteger('amount').notNullable(); // what was asked, computed by the server (minor units)
    t.string('currency', 3).notNullable();
    t.string('status', 12).notNullable(); // open | paid | expired
    t.string('payment_id', 36).nullable();
    t.string('started_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('started_at').notNullable();
    t.bigInteger('ended_at').nullable();
    t.unique(['provider', 'provider_ref']);
    t.index(['workspace_id', 'invoice_id']);
  });
  await knex.schema.alterTable('invoices_payments', (t) => {
    t.string('provider', 40).nullable(); // null for payments staff record by hand
    t.string('provider_ref', 255).nullable();
    t.string('refund_of', 36).nullable(); // a refund made through the provider: the payment it returns
    t.unique(['provider', 'provider_ref']);
    t.index(['workspace_id', 'refund_of']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoices_payments', (t) => {
    t.dropIndex(['workspace_id', 'refund_of']);
    t.dropUnique(['provider', 'provider_ref']);
    t.dropColumn('refund_of');
    t.dropColumn('provider_ref');
    t.dropColumn('provider');
  });
  await knex.schema.dropTable('invoices_checkouts');
  await knex.schema.dropTable('invoices_payment_methods');
}
