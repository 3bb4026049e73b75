// The kernel's tables: people, workspaces, memberships, sessions, settings, audit and mail outbox.
// Times are epoch milliseconds (UTC) in bigint columns on both databases; ids are UUIDv7 text.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.string('id', 36).primary();
    t.string('email', 320).notNullable().unique(); // stored case-folded
    t.string('name', 200).notNullable();
    t.string('password_hash', 255).notNullable();
    t.string('firm_role', 20).nullable(); // owner | admin | staff; null for a client
    t.boolean('disabled').notNullable().defaultTo(false);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('first_login_at').nullable();
    t.bigInteger('last_login_at').nullable();
  });

  await knex.schema.createTable('workspaces', (t) => {
    t.string('id', 36).primary();
    t.string('slug', 64).notNullable().unique();
    t.string('name', 200).notNullable();
    t.text('settings').notNullable().defaultTo('{}');
    t.boolean('archived').notNullable().defaultTo(false);
    t.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable('memberships', (t) => {
    t.string('id', 36).primary();
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('workspace_id', 36).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.string('role', 40).notNullable();
    t.bigInteger('created_at').notNullable();
    t.unique(['user_id', 'workspace_id']);
    t.index(['workspace_id']);
  });

  await knex.schema.createTable('sessions', (t) => {
    t.string('id_hash', 64).primary(); // SHA-256 of the cookie value; the value itself is never stored
    t.string('user_id', 36).nullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('csrf_token', 64).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('last_seen_at').notNullable();
    t.bigInteger('expires_at').notNullable(); // absolute expiry
    t.bigInteger('auth_at').nullable(); // when the password was last proven
    t.boolean('mfa_pending').notNullable().defaultTo(false);
    t.string('ip', 64).nullable();
    t.string('user_agent', 400).nullable();
    t.text('data').notNullable().defaultTo('{}');
    t.index(['user_id']);
    t.index(['expires_at']);
  });

  await knex.schema.createTable('settings', (t) => {
    t.string('key', 120).primary(); // `<owner>.<key>`, e.g. branding.primary, files.maxUploadBytes
    t.text('value').notNullable(); // JSON
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('audit_events', (t) => {
    t.bigInteger('seq').primary(); // gap-free here; per-workspace chains (20261206100000) allow gaps
    t.string('id', 36).notNullable().unique();
    t.bigInteger('created_at').notNullable();
    t.string('actor_id', 36).nullable();
    t.string('workspace_id', 36).nullable();
    t.string('action', 120).notNullable(); // <plugin>.<subject>.<verb>
    t.string('subject_type', 60).nullable();
    t.string('subject_id', 64).nullable();
    t.string('ip', 64).nullable();
    t.string('user_agent', 400).nullable();
    t.text('detail').notNullable().defaultTo('{}');
    t.string('prev_hash', 64).notNullable();
    t.string('hash', 64).notNullable();
    t.index(['workspace_id', 'seq']);
    t.index(['actor_id', 'seq']);
    t.index(['action']);
  });

  // One row holding the chain head; updating it in the same transaction serialises writers.
  // Frozen since 20261206100000_audit_chains: the head of the legacy chain, heads now in audit_heads.
  await knex.schema.createTable('audit_head', (t) => {
    t.integer('id').primary();
    t.bigInteger('seq').notNullable();
    t.string('hash', 64).notNullable();
  });
  await knex('audit_head').insert({ id: 1, seq: 0, hash: '0'.repeat(64) });

  await knex.schema.createTable('outbox', (t) => {
    t.string('id', 36).primary();
    t.string('message_id', 200).notNullable().unique(); // stable across retries
    t.string('workspace_id', 36).nullable();
    t.string('to_address', 320).notNullable();
    t.string('subject', 400).notNullable();
    t.text('text_body').notNullable();
    t.text('html_body').nullable();
    t.bigInteger('created_at').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('next_attempt_at').notNullable();
    t.bigInteger('sent_at').nullable();
    t.text('last_error').nullable();
    t.index(['sent_at', 'next_attempt_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['outbox', 'audit_head', 'audit_events', 'settings', 'sessions', 'memberships', 'workspaces', 'users']) {
    await knex.schema.dropTableIfExists(table);
  }
}
