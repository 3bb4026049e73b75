// Plugin `invoices`: invoices, their lines and payments (owned by a workspace; children reference
// their invoice together with the workspace), and the firm's number series (firm-wide: one
// counter row per series, locked by the transaction that takes a number).
import type { Knex } from 'knex';
import { workspaceOwned, workspaceChild } from '../../../core/index.ts';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('invoices_invoices', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    t.string('status', 20).notNullable(); // draft | issued | viewed | partially_paid | paid | void
    t.string('number', 40).nullable().unique(); // taken at issue: a gap-free series
    t.string('label', 60).notNullable(); // what the activity page names it: "Draft invoice", then the number
    t.string('currency', 3).notNullable();
    t.string('tax_mode', 10).notNullable(); // exclusive | inclusive, fixed when the draft was made
    t.integer('terms_days').notNullable();
    t.text('notes').notNullable();
    t.text('terms').notNullable();
    t.text('payment_details').notNullable(); // the firm's, copied at issue so the invoice never changes
    t.bigInteger('subtotal').notNullable();
    t.bigInteger('tax_total').notNullable();
    t.bigInteger('total').notNullable();
    t.bigInteger('paid_total').notNullable();
    t.bigInteger('issued_at').nullable();
    t.string('issued_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('due_at').nullable();
    t.bigInteger('viewed_at').nullable(); // the first view by someone of the client
    t.string('viewed_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('paid_at').nullable();
    t.bigInteger('voided_at').nullable();
    t.string('voided_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.string('void_reason', 300).nullable();
    t.string('pdf_key', 200).nullable(); // the issued PDF in the kernel's encrypted storage
    t.string('pdf_sha256', 64).nullable();
    t.integer('pdf_size').nullable();
    t.string('created_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['workspace_id', 'status', 'due_at']);
    t.index(['workspace_id', 'created_at']);
  });
  await knex.schema.createTable('invoices_lines', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'invoice_id', 'invoices_invoices');
    t.integer('position').notNullable();
    t.string('description', 300).notNullable();
    t.bigInteger('quantity').notNullable(); // thousandths
    t.bigInteger('unit_price').notNullable(); // minor units
    t.integer('tax_rate').notNullable(); // basis points
    t.integer('discount').notNullable(); // basis points
    t.bigInteger('net').notNullable();
    t.bigInteger('tax').notNullable();
    t.bigInteger('total').notNullable();
    t.unique(['invoice_id', 'position']);
  });
  await knex.schema.createTable('invoices_payments', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'invoice_id', 'invoices_invoices');
    t.string('receipt_number', 40).notNullable().unique();
    t.bigInteger('amount').notNullable(); // minor units; a refund is negative
    t.string('method', 20).notNullable(); // bank_transfer | cheque | cash
    t.string('reference', 200).notNullable();
    t.bigInteger('received_at').notNullable(); // the day it was received (UTC midnight)
    t.string('recorded_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('recorded_at').notNullable();
    t.index(['workspace_id', 'invoice_id']);
  });
  await knex.schema.createTable('invoices_series', (t) => {
    t.string('key', 60).primary(); // the rendered prefix: INV-2026-
    t.bigInteger('last').notNullable(); // the last number taken
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('invoices_series');
  await knex.schema.dropTable('invoices_payments');
  await knex.schema.dropTable('invoices_lines');
  await knex.schema.dropTable('invoices_invoices');
}
