// Custom workspace roles made by firm admins from the actions plugins declare. A membership's
// role is a built-in role name or a custom role's key.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('roles', (t) => {
    t.string('id', 36).primary();
    t.string('key', 48).notNullable().unique(); // e.g. custom-billing-contact
    t.string('name', 80).notNullable();
    t.text('permissions').notNullable(); // JSON: [[action, subject], ...]
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('roles');
}
