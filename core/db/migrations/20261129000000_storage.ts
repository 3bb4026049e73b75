// Blob storage (core/storage): one row per stored blob. The blob key is random; the blob's own
// encryption key is stored only wrapped under a master key named by key_id (never the master key
// itself). A blob without a row is an orphan the sweeper removes; plugins reference `key`.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('storage_blobs', (t) => {
    t.string('key', 32).primary();
    t.string('owner', 40).notNullable(); // the plugin (or `core`) that stored it
    t.string('workspace_id', 36).nullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.bigInteger('size').notNullable(); // plaintext bytes
    t.string('sha256', 64).notNullable(); // plaintext
    t.string('alg', 40).notNullable();
    t.string('key_id', 40).notNullable();
    t.string('wrapped_key', 200).notNullable();
    t.string('bind', 300).notNullable(); // the owner's context, authenticated with every chunk
    t.bigInteger('created_at').notNullable();
    t.index(['key_id']);
    t.index(['workspace_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('storage_blobs');
}
