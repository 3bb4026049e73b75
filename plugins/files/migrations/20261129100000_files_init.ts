// Plugin `files`: folders, files, versions, download receipts and per-person visits, all owned by
// a workspace. Children reference their parent together with the workspace (composite keys), so
// no row can point into another workspace. Blob bytes and their wrapped keys live in the kernel's
// `storage_blobs`; a version references its blob by key.
import type { Knex } from 'knex';
import { workspaceOwned, workspaceChild } from '../../../core/index.ts';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('files_folders', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    t.string('parent_id', 36).nullable(); // null: at the top level
    t.foreign(['workspace_id', 'parent_id']).references(['workspace_id', 'id']).inTable('files_folders');
    t.string('name', 255).notNullable();
    t.string('area', 10).notNullable(); // shared | internal
    t.string('client_access', 10).notNullable(); // view | upload | manage
    t.string('created_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('deleted_at').nullable();
    t.index(['workspace_id', 'parent_id']);
  });
  await knex.schema.createTable('files_files', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    t.string('folder_id', 36).nullable();
    t.foreign(['workspace_id', 'folder_id']).references(['workspace_id', 'id']).inTable('files_folders');
    t.string('name', 255).notNullable();
    t.string('name_key', 255).notNullable(); // lower-cased name: same name in the same folder = a new version
    t.string('area', 10).notNullable(); // shared | internal
    t.string('current_version_id', 36).nullable();
    t.bigInteger('size').notNullable(); // of the current version
    t.string('content_type', 120).notNullable();
    t.bigInteger('delivered_at').nullable(); // marked as a deliverable
    t.string('delivered_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.string('created_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.bigInteger('deleted_at').nullable(); // in the trash since
    t.string('deleted_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.index(['workspace_id', 'folder_id', 'name_key']);
    t.index(['workspace_id', 'delivered_at']);
    t.index(['workspace_id', 'deleted_at']);
  });
  await knex.schema.createTable('files_versions', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'file_id', 'files_files');
    t.integer('number').notNullable();
    t.string('blob_key', 32).notNullable().references('key').inTable('storage_blobs');
    t.bigInteger('size').notNullable();
    t.string('sha256', 64).notNullable();
    t.string('content_type', 120).notNullable();
    t.string('uploaded_by', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.bigInteger('created_at').notNullable();
    t.unique(['file_id', 'number']);
  });
  await knex.schema.createTable('files_downloads', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    workspaceChild(t, 'file_id', 'files_files');
    t.string('version_id', 36).notNullable();
    t.string('user_id', 36).nullable().references('id').inTable('users').onDelete('SET NULL');
    t.string('via', 10).notNullable(); // file | zip
    t.bigInteger('created_at').notNullable();
    t.index(['workspace_id', 'file_id', 'created_at']);
  });
  await knex.schema.createTable('files_visits', (t) => {
    t.string('id', 36).primary();
    workspaceOwned(t);
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.bigInteger('seen_at').notNullable();
    t.unique(['workspace_id', 'user_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('files_visits');
  await knex.schema.dropTable('files_downloads');
  await knex.schema.dropTable('files_versions');
  await knex.schema.dropTable('files_files');
  await knex.schema.dropTable('files_folders');
}
