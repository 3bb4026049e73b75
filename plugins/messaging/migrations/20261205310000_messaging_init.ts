// Plugin `messaging`: threads (the workspace's general thread, threads with a subject line, and the
// discussion of another plugin's subject), messages (public or internal), their edit history,
// attachments, each person's read mark, the batched notification queue, and full-text search
// (SQLite FTS5 table / PostgreSQL tsvector with a GIN index).
import type { Knex } from 'knex';
import { isPostgresClient, workspaceChild, workspaceOwned } from '../../../core/index.ts';

export async function up(knex: Knex): Promise<void> {
  const pg = isPostgresClient(knex);
  await knex.schema.createTable('messaging_threads', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    /** general | topic | subject */
    t.string('kind', 16).notNullable();
    /** Unique per workspace: 'general', 'topic:<id>', 'subject:<Type>:<id>'. */
    t.string('key', 120).notNullable();
    t.string('title', 200).notNullable();
    t.string('subject_type', 40).nullable();
    t.string('subject_id', 36).nullable();
    t.string('created_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('created_at').notNullable();
    /** The last message anyone may read (public), and the last message at all (staff). */
    t.bigInteger('last_public_at').nullable();
    t.bigInteger('last_at').nullable();
    t.integer('public_count').notNullable().defaultTo(0);
    t.integer('message_count').notNullable().defaultTo(0);
    /** Since when the firm owes a reply (the client's oldest unanswered public message), else null. */
    t.bigInteger('awaiting_firm_since').nullable();
    t.string('assignee_id', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('done_at').nullable();
    t.unique(['workspace_id', 'key']);
    t.index(['workspace_id', 'last_public_at']);
    t.index(['awaiting_firm_since']);
  });
  await knex.schema.createTable('messaging_messages', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'thread_id', 'messaging_threads');
    t.string('author_id', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    /** public | internal (staff only: never in a client's list, stream, mail, search, export or count) */
    t.string('visibility', 16).notNullable();
    t.text('body').notNullable();
    /** The body rendered and sanitised once, when written. */
    t.text('html').notNullable();
    /** 'email' when it came in as a reply to a notification mail. */
    t.string('via', 16).notNullable().defaultTo('portal');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('edited_at').nullable();
    t.bigInteger('deleted_at').nullable();
    t.string('deleted_by', 36).nullable();
    t.index(['workspace_id', 'thread_id', 'created_at', 'id']);
  });
  await knex.schema.createTable('messaging_edits', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'message_id', 'messaging_messages');
    t.text('body').notNullable();
    t.bigInteger('replaced_at').notNullable();
    t.index(['workspace_id', 'message_id']);
  });
  await knex.schema.createTable('messaging_attachments', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'message_id', 'messaging_messages');
    t.string('name', 255).notNullable();
    t.string('content_type', 120).notNullable();
    t.bigInteger('size').notNullable();
    t.string('blob_key', 200).notNullable();
    t.string('sha256', 64).notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['workspace_id', 'message_id']);
  });
  await knex.schema.createTable('messaging_reads', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'thread_id', 'messaging_threads');
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    /** The created_at of the newest message this person has seen in the thread. */
    t.bigInteger('read_through').notNullable();
    t.bigInteger('read_at').notNullable();
    t.unique(['thread_id', 'user_id']);
    t.index(['user_id']);
  });
  await knex.schema.createTable('messaging_mail_queue', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'thread_id', 'messaging_threads');
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    /** When the batch is mailed (the first unseen message + the window). */
    t.bigInteger('due_at').notNullable();
    /** Messages after this time are in the batch. */
    t.bigInteger('since').notNullable();
    t.unique(['thread_id', 'user_id']);
    t.index(['due_at']);
  });
  if (pg) {
    await knex.raw(`alter table messaging_messages add column search tsvector generated always as (to_tsvector('simple', coalesce(body, ''))) stored`);
    await knex.raw('create index messaging_messages_search on messaging_messages using gin (search)');
  } else {
    await knex.raw(`create virtual table messaging_fts using fts5(body, message_id unindexed, workspace_id unindexed, tokenize = 'unicode61 remove_diacritics 2')`);
  }
}

export async function down(knex: Knex): Promise<void> {
  if (!isPostgresClient(knex)) await knex.raw('drop table if exists messaging_fts');
  for (const t of ['messaging_mail_queue', 'messaging_reads', 'messaging_attachments', 'messaging_edits', 'messaging_messages', 'messaging_threads']) await knex.schema.dropTableIfExists(t);
}
