// A queued message may carry a Reply-To (a plugin's reply-by-email address, core/inbound.ts).
// The worker clears it once the message is delivered: the address holds a secret token.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.string('reply_to', 320).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.dropColumn('reply_to');
  });
}
