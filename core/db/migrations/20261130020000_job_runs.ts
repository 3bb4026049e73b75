// Periodic background jobs (trash purge, sweeps, reminders) run once per period across every
// process sharing the database: a process claims the period by moving `next_run_at` forward.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('job_runs', (t) => {
    t.string('name', 100).primary();
    t.bigInteger('next_run_at').notNullable();
    t.string('holder', 64).nullable();
    t.bigInteger('started_at').nullable();
    t.bigInteger('finished_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('job_runs');
}
