// Plugin `payments-stripe`: every Stripe event id processed, so a replayed or duplicated delivery
// is answered without acting twice. Firm-wide (an event may name no invoice we know): ids, the
// type and what was done, nothing a client wrote.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('payments_stripe_events', (t) => {
    t.string('event_id', 255).primary(); // evt_…
    t.string('type', 100).notNullable(); // checkout.session.completed …
    t.string('outcome', 40).notNullable(); // recorded | duplicate | refused:<reason> | ended | ignored | pending
    t.bigInteger('received_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('payments_stripe_events');
}
