// The top level of a workspace's files (`folder_id IS NULL`), in each sort order. PostgreSQL does
// not treat `folder_id IS NULL` as fixing folder_id when it looks for an index that gives the
// ORDER BY (it does for `folder_id = ?`), so the list indexes of 20261130000000 served only
// sub-folders: at the top level it read and sorted every file of the workspace (150 ms at 100,000
// files, 15 req/s in bench/pages.ts). Partial indexes on the top level give the order directly
// (0.2 ms), on both databases.
import type { Knex } from 'knex';

const INDEXES: Array<[string, string]> = [
  ['files_files_top_name_index', 'name_key'],
  ['files_files_top_size_index', 'size'],
  ['files_files_top_updated_index', 'updated_at'],
];

export async function up(knex: Knex): Promise<void> {
  for (const [name, column] of INDEXES) await knex.raw(`create index ${name} on files_files (workspace_id, ${column}, id) where folder_id is null`);
}

export async function down(knex: Knex): Promise<void> {
  for (const [name] of INDEXES) await knex.raw(`drop index if exists ${name}`);
}
