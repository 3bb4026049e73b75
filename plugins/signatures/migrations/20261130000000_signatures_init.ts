// Plugin `signatures`: envelopes (a file version sent for signature), their signers in order, where
// each signature goes, and the events the certificate lists. Every table is owned by a workspace;
// children reference their envelope together with the workspace (composite keys).
// The envelope keeps the file and version ids as plain columns, not a foreign key: the files
// plugin may purge a trashed file, and the signing record (and its audit trail) must survive it.
import type { Knex } from 'knex';
import { workspaceOwned, workspaceChild } from '../../../core/index.ts';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('signatures_envelopes', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    t.string('title', 200).notNullable();
    t.string('message', 2000).notNullable();
    t.string('file_id', 36).notNullable();
    t.string('version_id', 36).notNullable(); // the version sent
    t.string('document_name', 255).notNullable();
    t.bigInteger('document_size').notNullable();
    t.string('sha256_sent', 64).notNullable(); // recomputed from the bytes when sending
    t.integer('page_count').notNullable();
    t.string('status', 12).notNullable(); // sent | completed | declined | voided
    t.string('created_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('sent_at').notNullable();
    t.bigInteger('finished_at').nullable(); // completed, declined or voided
    t.string('signed_version_id', 36).nullable();
    t.string('sha256_stamped', 64).nullable(); // signatures stamped, before the certificate page
    t.string('sha256_final', 64).nullable(); // the stored signed version, certificate included
    t.string('void_reason', 500).nullable();
    t.index(['workspace_id', 'status', 'created_at']);
    t.index(['workspace_id', 'file_id']);
  });
  await knex.schema.createTable('signatures_signers', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'envelope_id', 'signatures_envelopes');
    t.integer('position').notNullable(); // 1, 2, ...: the signing order
    t.string('user_id', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.string('name', 200).notNullable();
    t.string('email', 254).notNullable();
    t.string('status', 10).notNullable(); // waiting | pending | signed | declined | voided
    t.string('link_id', 36).nullable(); // the kernel link's id (never its token)
    t.string('consent_version', 40).nullable();
    t.string('consent_sha256', 64).nullable();
    t.bigInteger('consented_at').nullable();
    t.string('signature_kind', 10).nullable(); // typed | drawn
    t.string('signature_text', 200).nullable();
    t.text('signature_png').nullable(); // base64 PNG, validated, at most ~200 KB
    t.string('sha256_at_signing', 64).nullable();
    t.bigInteger('signed_at').nullable();
    t.string('decline_reason', 1000).nullable();
    t.unique(['envelope_id', 'position']);
  });
  await knex.schema.createTable('signatures_placements', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'envelope_id', 'signatures_envelopes');
    workspaceChild(t, 'signer_id', 'signatures_signers');
    t.integer('page').notNullable(); // 1-based
    t.float('x').notNullable(); // PDF points from the page's lower-left corner
    t.float('y').notNullable();
    t.float('width').notNullable();
    t.float('height').notNullable();
  });
  await knex.schema.createTable('signatures_events', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'envelope_id', 'signatures_envelopes');
    t.integer('seq').notNullable(); // order within the envelope (several events share a millisecond)
    t.string('signer_id', 36).nullable();
    t.string('kind', 20).notNullable(); // created | sent | opened | consented | signed | declined | completed | voided | refused | resent
    t.string('actor_name', 200).notNullable();
    t.bigInteger('at').notNullable();
    t.string('ip', 64).notNullable();
    t.string('user_agent', 500).notNullable();
    t.text('detail').notNullable(); // JSON
    t.unique(['envelope_id', 'seq']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('signatures_events');
  await knex.schema.dropTable('signatures_placements');
  await knex.schema.dropTable('signatures_signers');
  await knex.schema.dropTable('signatures_envelopes');
}
