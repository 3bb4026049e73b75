// First-page previews of PDF versions (preview.ts): at most one row per version, whatever became
// of it: `ready` (a PNG in the kernel's encrypted storage, by blob key), `failed` (the renderer
// could not, with a short reason) or `skipped` (over the size cap). A version without a row was
// never a PDF, or has not been rendered yet. The row references its version together with the
// workspace (composite key), so it cannot point into another workspace; the trash purge deletes
// it, and its blob, with the version.
import type { Knex } from 'knex';
import { workspaceOwned, workspaceChild } from '../../../core/index.ts';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('files_previews', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'version_id', 'files_versions');
    t.string('blob_key', 32).nullable().references('key').inTable('storage_blobs'); // only when ready
    t.string('status', 10).notNullable(); // ready | failed | skipped
    t.string('reason', 200).nullable(); // why it failed or was skipped
    t.integer('width').nullable(); // of the PNG, in pixels, when ready
    t.integer('height').nullable();
    t.bigInteger('created_at').notNullable();
    t.unique(['version_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('files_previews');
}
