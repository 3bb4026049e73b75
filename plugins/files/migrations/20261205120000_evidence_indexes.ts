// Proof of service (evidence.ts) reads a workspace's versions and download receipts by time, a
// period at a time, in keyset pages: these indexes let each page start where the last one ended
// instead of scanning every version or receipt of the workspace.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('files_versions', (t) => {
    t.index(['workspace_id', 'created_at'], 'files_versions_evidence_index');
  });
  await knex.schema.alterTable('files_downloads', (t) => {
    t.index(['workspace_id', 'created_at'], 'files_downloads_evidence_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('files_downloads', (t) => {
    t.dropIndex(['workspace_id', 'created_at'], 'files_downloads_evidence_index');
  });
  await knex.schema.alterTable('files_versions', (t) => {
    t.dropIndex(['workspace_id', 'created_at'], 'files_versions_evidence_index');
  });
}
