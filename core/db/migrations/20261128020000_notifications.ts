// Notifications and each person's preference for them: mailed at once, gathered into a daily
// digest, or off (kept on record, never mailed).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.string('notify_pref', 20).notNullable().defaultTo('immediately');
    t.bigInteger('last_digest_at').nullable();
  });
  await knex.schema.createTable('notifications', (t) => {
    t.string('id', 36).primary();
    t.string('user_id', 36).notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.string('workspace_id', 36).nullable().references('id').inTable('workspaces').onDelete('CASCADE');
    t.string('kind', 80).notNullable(); // <plugin>.<thing>, e.g. files.deliverable
    t.string('subject', 300).notNullable();
    t.text('body').notNullable();
    t.string('link', 500).nullable(); // a path on this site
    t.string('state', 20).notNullable(); // mailed | pending | digested | muted
    t.bigInteger('created_at').notNullable();
    t.bigInteger('digested_at').nullable();
    t.index(['user_id', 'state']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('notifications');
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('last_digest_at');
    t.dropColumn('notify_pref');
  });
}
