// The audit log is append-only in the database itself (SECURITY.md control 43: "UPDATE ->
// denied"): triggers refuse every UPDATE and DELETE of an audit_events row (and TRUNCATE on
// PostgreSQL), whoever issues them, so a bug or an injected statement in the application cannot
// rewrite history. The chain heads (audit_head; audit_heads since 20261206100000) are updated on
// every append and are not guarded; the chain walk and the signed checkpoints
// (core/audit-checkpoints.ts) catch a forged head.
//
// Someone with owner rights can still drop the triggers: that is what the hash chain and the
// checkpoints kept off the database are for. The tests that tamper on purpose do exactly that
// (test/helpers/audit.ts), through the two functions exported here.
//
// PostgreSQL: the trigger function is created unqualified, so it lands in the current schema
// (the first of search_path: the installation's ATRIUM_DB_SCHEMA, or public), next to the table.
import type { Knex } from 'knex';

const PG_FUNCTION = 'audit_events_append_only';

function onPostgres(knex: Knex): boolean {
  const client = String((knex.client as { config?: { client?: unknown } }).config?.client ?? '');
  return client === 'pg' || client === 'postgres' || client === 'postgresql';
}

/** Create the triggers (idempotent). */
export async function installAuditGuard(knex: Knex): Promise<void> {
  if (onPostgres(knex)) {
    await knex.raw(`
      create or replace function ${PG_FUNCTION}() returns trigger language plpgsql as $body$
      begin
        raise exception 'audit_events is append-only: % denied', tg_op using errcode = 'insufficient_privilege';
      end
      $body$`);
    await knex.raw(`drop trigger if exists audit_events_no_change on audit_events`);
    await knex.raw(`drop trigger if exists audit_events_no_truncate on audit_events`);
    await knex.raw(`create trigger audit_events_no_change before update or delete on audit_events for each row execute function ${PG_FUNCTION}()`);
    await knex.raw(`create trigger audit_events_no_truncate before truncate on audit_events for each statement execute function ${PG_FUNCTION}()`);
    return;
  }
  for (const op of ['UPDATE', 'DELETE']) {
    await knex.raw(`drop trigger if exists audit_events_no_${op.toLowerCase()}`);
    await knex.raw(`create trigger audit_events_no_${op.toLowerCase()} before ${op} on audit_events begin select raise(abort, 'audit_events is append-only: ${op} denied'); end`);
  }
}

/** Drop the triggers (idempotent). */
export async function removeAuditGuard(knex: Knex): Promise<void> {
  if (onPostgres(knex)) {
    await knex.raw(`drop trigger if exists audit_events_no_change on audit_events`);
    await knex.raw(`drop trigger if exists audit_events_no_truncate on audit_events`);
    await knex.raw(`drop function if exists ${PG_FUNCTION}()`);
    return;
  }
  for (const op of ['update', 'delete']) await knex.raw(`drop trigger if exists audit_events_no_${op}`);
}

export async function up(knex: Knex): Promise<void> {
  await installAuditGuard(knex);
}

export async function down(knex: Knex): Promise<void> {
  await removeAuditGuard(knex);
}
