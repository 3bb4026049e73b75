// Reply by email (core/inbound.ts): per-recipient reply addresses `reply+<token>@<domain>`, each
// bound to one person, workspace, plugin/purpose and subject. Only the SHA-256 of the token is
// stored. `inbound_seen` holds the Message-IDs (hashed) already handled per address, so a relay
// that delivers the same reply twice does not post it twice.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('inbound_tokens', (t) => {
    t.string('id', 36).primary();
    t.string('token_hash', 64).notNullable().unique();
    t.string('plugin', 64).notNullable();
    t.string('purpose', 64).notNullable();
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('workspace_id', 36).notNullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.string('subject_id', 64).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.index(['expires_at']);
  });
  await knex.schema.createTable('inbound_seen', (t) => {
    t.string('token_id', 36).notNullable().references('id').inTable('inbound_tokens').onDelete('CASCADE');
    t.string('message_hash', 64).notNullable();
    t.bigInteger('received_at').notNullable();
    t.primary(['token_id', 'message_hash']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('inbound_seen');
  await knex.schema.dropTable('inbound_tokens');
}
