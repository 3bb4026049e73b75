// One audit hash chain per workspace, plus one firm chain for events without a workspace
// (core/audit.ts). The single chain whose head was the one row audit_head id=1 serialised every
// audited write of the installation on that row's lock; each chain now has its own head row in
// audit_heads (chain = the workspace id, or '' for the firm chain), so writers in different
// workspaces no longer wait for each other.
//
// History is not rewritten (audit_events is append-only, migration 20261130030000): rows written
// before this migration keep chain_seq null and stay one legacy chain, verified exactly as before
// against audit_head, which no longer moves. New rows carry chain_seq, their position in their
// own chain. seq stays the primary key and the log's reading order, but is no longer gap-free:
// on PostgreSQL it comes from a sequence started past the current rows (a rolled-back append
// leaves a gap); on SQLite, with one writer connection, max(seq) + 1.
import type { Knex } from 'knex';

function onPostgres(knex: Knex): boolean {
  const client = String((knex.client as { config?: { client?: unknown } }).config?.client ?? '');
  return client === 'pg' || client === 'postgres' || client === 'postgresql';
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.bigInteger('chain_seq').nullable(); // null: a row of the legacy single chain
    // Checkpoints look a signed chain position up by (workspace, chain_seq).
    t.index(['workspace_id', 'chain_seq'], 'audit_events_chain_seq_index');
  });
  await knex.schema.createTable('audit_heads', (t) => {
    t.string('chain', 36).primary(); // workspace id, or '' for the firm chain
    t.bigInteger('seq').notNullable(); // the chain's own count: chain_seq of its last row
    t.string('hash', 64).notNullable();
  });
  if (onPostgres(knex)) {
    const max = Number(((await knex('audit_events').max({ m: 'seq' }).first()) as { m: unknown } | undefined)?.m ?? 0);
    await knex.raw('create sequence audit_events_seq as bigint minvalue 1');
    await knex.raw(`select setval('audit_events_seq', ?, false)`, [max + 1]);
  }
}

export async function down(knex: Knex): Promise<void> {
  // The single chain cannot take rows that were chained per workspace: going back would leave
  // them unverifiable, so refuse rather than lose the evidence.
  const chained = Number(((await knex('audit_events').whereNotNull('chain_seq').count({ n: '*' }).first()) as { n: unknown } | undefined)?.n ?? 0);
  if (chained > 0) throw new Error(`cannot undo the per-workspace audit chains: ${chained} audit event(s) were written on them and the single chain cannot hold them`);
  if (onPostgres(knex)) await knex.raw('drop sequence if exists audit_events_seq');
  await knex.schema.dropTable('audit_heads');
  // Plain ALTER TABLE DROP COLUMN (SQLite 3.35+): knex's SQLite path would copy the table and
  // lose the append-only triggers.
  await knex.raw('drop index if exists audit_events_chain_seq_index');
  await knex.raw('alter table audit_events drop column chain_seq');
}
