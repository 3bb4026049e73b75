// The notices' read marker: the header counts unread notices; "Mark all as read" clears them.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notifications', (t) => {
    t.bigInteger('read_at').nullable();
    t.index(['user_id', 'read_at']);
    t.index(['user_id', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notifications', (t) => {
    t.dropIndex(['user_id', 'created_at']);
    t.dropIndex(['user_id', 'read_at']);
    t.dropColumn('read_at');
  });
}
