// Plugin `approvals`: requests, their approvers, one row per round (the version each round was
// about), immutable decisions, and the reminders already sent. Every table is owned by a workspace
// and children reference their request together with the workspace (composite keys).
import type { Knex } from 'knex';
import { workspaceOwned, workspaceChild } from '../../../core/index.ts';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('approvals_requests', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    t.string('subject_type', 60).notNullable(); // a registered approvable type, e.g. files.version
    t.string('subject_id', 36).notNullable();
    t.string('subject_title', 255).notNullable();
    t.string('version_id', 36).notNullable(); // the version the current round is about
    t.integer('version_number').notNullable();
    t.string('sha256', 64).notNullable();
    t.boolean('client_visible').notNullable();
    t.string('title', 200).notNullable();
    t.text('message').notNullable(); // '' when none
    t.string('sequence', 12).notNullable(); // parallel | sequential
    t.integer('current_position').nullable(); // sequential: the approver whose turn it is
    t.bigInteger('due_at').nullable(); // end of the due day (UTC), inclusive
    t.boolean('auto_approve').notNullable(); // the agreed rule: approved if no answer by the due date
    t.string('status', 20).notNullable(); // pending | approved | changes_requested | cancelled
    t.integer('round').notNullable();
    t.bigInteger('round_opened_at').notNullable();
    t.string('created_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.bigInteger('decided_at').nullable(); // the final decision of the latest round
    t.bigInteger('turnaround_ms').nullable(); // request created -> final decision (insights)
    t.index(['workspace_id', 'status', 'due_at']);
    t.index(['workspace_id', 'subject_type', 'subject_id']);
    t.index(['status', 'due_at']);
  });
  await knex.schema.createTable('approvals_approvers', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'request_id', 'approvals_requests');
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.integer('position').notNullable(); // 1..n: the order of a sequential request
    t.bigInteger('notified_at').nullable(); // last asked (a reminder is never sent the same day)
    t.unique(['request_id', 'user_id']);
    t.unique(['request_id', 'position']);
    t.index(['workspace_id', 'user_id']);
  });
  await knex.schema.createTable('approvals_rounds', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'request_id', 'approvals_requests');
    t.integer('round').notNullable();
    t.string('version_id', 36).notNullable();
    t.integer('version_number').notNullable();
    t.string('sha256', 64).notNullable();
    t.bigInteger('opened_at').notNullable();
    t.bigInteger('closed_at').nullable();
    t.string('outcome', 20).nullable(); // approved | changes_requested | cancelled | superseded
    t.unique(['request_id', 'round']);
  });
  await knex.schema.createTable('approvals_decisions', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'request_id', 'approvals_requests');
    t.integer('round').notNullable();
    t.string('approver_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE'); // whose answer this is
    t.string('decided_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL'); // null: the agreed due-date rule
    t.string('decision', 20).notNullable(); // approved | changes_requested
    t.text('comment').notNullable(); // '' when none
    t.string('version_id', 36).notNullable();
    t.integer('version_number').notNullable();
    t.string('sha256', 64).notNullable(); // of the exact version decided on
    t.string('via', 10).notNullable(); // portal | link | rule
    t.string('ip', 64).nullable();
    t.string('user_agent', 400).nullable();
    t.bigInteger('created_at').notNullable();
    // One answer per approver per round, ever: decisions are never edited, a correction is a new request.
    t.unique(['request_id', 'round', 'approver_id']);
  });
  await knex.schema.createTable('approvals_reminders', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'request_id', 'approvals_requests');
    t.integer('round').notNullable();
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('kind', 10).notNullable(); // before | due
    t.bigInteger('sent_at').notNullable();
    // The claim: two processes racing for the same reminder, one insert wins.
    t.unique(['request_id', 'round', 'user_id', 'kind']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('approvals_reminders');
  await knex.schema.dropTable('approvals_decisions');
  await knex.schema.dropTable('approvals_rounds');
  await knex.schema.dropTable('approvals_approvers');
  await knex.schema.dropTable('approvals_requests');
}
