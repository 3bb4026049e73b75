// Identity and access: MFA (TOTP secret encrypted at rest, last used step, recovery codes),
// invitations, password resets, email changes, the brute-force throttle, and the outbox's
// delivery columns (claim, failure). Times are epoch ms in bigint columns; ids are UUIDv7 text.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.text('mfa_secret').nullable(); // AES-256-GCM ciphertext (core/identity/mfa.ts), never plaintext
    t.bigInteger('mfa_enabled_at').nullable();
    t.bigInteger('mfa_last_step').nullable(); // each 30 s step is usable once
    t.bigInteger('password_changed_at').nullable();
  });

  await knex.schema.createTable('mfa_recovery_codes', (t) => {
    t.string('id', 36).primary();
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('code_hash', 255).notNullable(); // argon2id
    t.bigInteger('created_at').notNullable();
    t.bigInteger('used_at').nullable();
    t.index(['user_id']);
  });

  await knex.schema.createTable('invitations', (t) => {
    t.string('id', 36).primary();
    t.string('token_hash', 64).notNullable().unique(); // SHA-256 of the emailed token
    t.string('workspace_id', 36).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.string('email', 320).notNullable(); // case-folded
    t.string('role', 40).notNullable();
    t.string('invited_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('last_sent_at').notNullable();
    t.integer('send_count').notNullable().defaultTo(1);
    t.bigInteger('accepted_at').nullable();
    t.string('accepted_by', 36).nullable();
    t.bigInteger('revoked_at').nullable();
    t.index(['workspace_id', 'created_at']);
    t.index(['email']);
  });

  await knex.schema.createTable('password_resets', (t) => {
    t.string('id', 36).primary();
    t.string('token_hash', 64).notNullable().unique();
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('used_at').nullable(); // used, superseded, or voided by a login or password change
    t.index(['user_id']);
  });

  await knex.schema.createTable('email_changes', (t) => {
    t.string('id', 36).primary();
    t.string('token_hash', 64).notNullable().unique();
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('new_email', 320).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('used_at').nullable();
    t.index(['user_id']);
  });

  // Brute-force counters shared by every process: one row per key (login:…, mfa:…, reset:…).
  await knex.schema.createTable('throttle', (t) => {
    t.string('key', 200).primary();
    t.integer('count').notNullable().defaultTo(0);
    t.bigInteger('window_start').notNullable();
    t.bigInteger('blocked_until').notNullable().defaultTo(0);
    t.integer('level').notNullable().defaultTo(0); // how many lockouts so far: the next one doubles
    t.bigInteger('updated_at').notNullable();
    t.index(['updated_at']);
  });

  await knex.schema.alterTable('outbox', (t) => {
    t.string('claim_token', 36).nullable(); // the worker run that holds the row
    t.bigInteger('claim_expires_at').nullable(); // after this, another worker may take it
    t.bigInteger('failed_at').nullable(); // gave up after the last attempt
    t.index(['failed_at', 'next_attempt_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.dropIndex(['failed_at', 'next_attempt_at']);
    t.dropColumn('claim_token');
    t.dropColumn('claim_expires_at');
    t.dropColumn('failed_at');
  });
  for (const table of ['throttle', 'email_changes', 'password_resets', 'invitations', 'mfa_recovery_codes']) {
    await knex.schema.dropTableIfExists(table);
  }
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('mfa_secret');
    t.dropColumn('mfa_enabled_at');
    t.dropColumn('mfa_last_step');
    t.dropColumn('password_changed_at');
  });
}
