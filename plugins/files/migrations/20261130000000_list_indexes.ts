// Indexes for the file list at 100,000 files in one folder (bench/pages.ts measures 1k vs 100k):
//  - the list sorts a folder by name, size or last update, 50 rows a page. Name already has an
//    index (workspace_id, folder_id, name_key); these let the size and updated sorts read the
//    first page in index order instead of sorting every file in the folder (~50 ms on SQLite at
//    100k files without them);
//  - the list counts at most 1,000 rows past the page (routes.ts listModel); a covering index
//    over the columns that count filters on keeps that count off the table rows (~0.1 ms instead
//    of ~3 ms when the planner would otherwise walk a sort index and look up each row).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('files_files', (t) => {
    t.index(['workspace_id', 'folder_id', 'size'], 'files_files_list_size_index');
    t.index(['workspace_id', 'folder_id', 'updated_at'], 'files_files_list_updated_index');
    t.index(['workspace_id', 'folder_id', 'deleted_at', 'area'], 'files_files_list_count_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('files_files', (t) => {
    t.dropIndex(['workspace_id', 'folder_id', 'size'], 'files_files_list_size_index');
    t.dropIndex(['workspace_id', 'folder_id', 'updated_at'], 'files_files_list_updated_index');
    t.dropIndex(['workspace_id', 'folder_id', 'deleted_at', 'area'], 'files_files_list_count_index');
  });
}
