// "Waiting on you" (core/waiting.ts): each person's count of items waiting on them, as the header
// shows it. A cache, not a record: read with the session (no query of its own), recomputed when a
// provider's plugin reports a change and when older than COUNT_TTL_MS. Firm-wide (one row per
// person across all their workspaces), so it carries no workspace_id.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('waiting_counts', (t) => {
    t.string('user_id', 36).primary().references('id').inTable('users').onDelete('CASCADE');
    t.integer('count').notNullable();
    t.bigInteger('computed_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('waiting_counts');
}
