// Plugin `invoices`, billing: credit notes (their own number series; they reduce what an invoice
// still owes, kept on the invoice as `credited_total`), recurring templates with the periods they
// issued (UNIQUE template + period: two job runners can never make two invoices for one period),
// and the reminders sent (UNIQUE invoice + step: each step once, whichever process sends it).
import type { Knex } from 'knex';
import { workspaceOwned, workspaceChild } from '../../../core/index.ts';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoices_invoices', (t) => {
    // The sum of the invoice's credit notes: what is owed is total - paid_total - credited_total.
    t.bigInteger('credited_total').notNullable().defaultTo(0);
  });
  await knex.schema.createTable('invoices_credit_notes', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'invoice_id', 'invoices_invoices');
    t.string('number', 40).notNullable().unique(); // its own gap-free series: CN-2026-0001
    t.string('reason', 300).notNullable(); // shown to the client and printed on the PDF
    t.string('currency', 3).notNullable(); // the invoice's
    t.bigInteger('subtotal').notNullable();
    t.bigInteger('tax_total').notNullable();
    t.bigInteger('total').notNullable(); // positive: what it takes off the invoice
    t.bigInteger('issued_at').notNullable();
    t.string('issued_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.string('pdf_key', 200).notNullable();
    t.string('pdf_sha256', 64).notNullable();
    t.integer('pdf_size').notNullable();
    t.index(['workspace_id', 'invoice_id']);
  });
  await knex.schema.createTable('invoices_credit_lines', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'credit_note_id', 'invoices_credit_notes');
    t.string('invoice_line_id', 36).nullable(); // the invoice line it credits; null for an amount
    t.integer('position').notNullable();
    t.string('description', 300).notNullable();
    t.bigInteger('quantity').notNullable(); // thousandths
    t.bigInteger('unit_price').notNullable();
    t.integer('tax_rate').notNullable();
    t.integer('discount').notNullable();
    t.bigInteger('net').notNullable();
    t.bigInteger('tax').notNullable();
    t.bigInteger('total').notNullable();
    t.unique(['credit_note_id', 'position']);
  });
  await knex.schema.createTable('invoices_templates', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    t.string('name', 120).notNullable();
    t.string('status', 10).notNullable(); // active | paused
    t.string('currency', 3).notNullable();
    t.integer('terms_days').notNullable();
    t.text('notes').notNullable();
    t.text('terms').notNullable();
    t.integer('interval_months').notNullable(); // 1 monthly, 3 quarterly, 12 yearly
    t.integer('day_of_month').notNullable(); // 1-31; past the month's end means its last day
    t.integer('anchor_month').notNullable(); // the first period: year * 12 + month (0-11)
    t.integer('next_index').notNullable(); // the next period to issue: anchor + next_index * interval
    t.bigInteger('next_at').notNullable(); // that period's day, UTC midnight (what the job looks for)
    t.boolean('auto_send').notNullable(); // issue on schedule, or make a draft for review
    t.string('created_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['status', 'next_at']);
    t.index(['workspace_id', 'created_at']);
  });
  await knex.schema.createTable('invoices_template_lines', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'template_id', 'invoices_templates');
    t.integer('position').notNullable();
    t.string('description', 300).notNullable();
    t.bigInteger('quantity').notNullable();
    t.bigInteger('unit_price').notNullable();
    t.integer('tax_rate').notNullable();
    t.integer('discount').notNullable();
    t.unique(['template_id', 'position']);
  });
  await knex.schema.createTable('invoices_template_runs', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'template_id', 'invoices_templates');
    t.string('period', 7).notNullable(); // YYYY-MM of the period's day
    t.string('invoice_id', 36).nullable().references('id').inTable('invoices_invoices').onDelete('SET NULL');
    t.boolean('auto_send').notNullable(); // whether this period's invoice is to be issued (a crash between draft and issue is finished later)
    t.bigInteger('created_at').notNullable();
    t.unique(['template_id', 'period']);
  });
  await knex.schema.createTable('invoices_reminders', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'invoice_id', 'invoices_invoices');
    t.string('step', 12).notNullable(); // before-3, after-7
    t.bigInteger('sent_at').notNullable();
    t.unique(['invoice_id', 'step']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('invoices_reminders');
  await knex.schema.dropTable('invoices_template_runs');
  await knex.schema.dropTable('invoices_template_lines');
  await knex.schema.dropTable('invoices_templates');
  await knex.schema.dropTable('invoices_credit_lines');
  await knex.schema.dropTable('invoices_credit_notes');
  await knex.schema.alterTable('invoices_invoices', (t) => t.dropColumn('credited_total'));
}
