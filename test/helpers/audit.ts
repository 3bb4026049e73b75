// The audit log refuses UPDATE and DELETE (triggers from migration 20261130030000, SECURITY.md
// control 43). Tests that tamper with it on purpose, to prove `audit:verify` notices, first play
// an attacker with owner rights on the database: they drop the triggers. These helpers do that.
import type { Knex } from 'knex';
import { installAuditGuard, removeAuditGuard } from '../../core/db/migrations/20261130030000_audit_append_only.ts';

/** Drop the append-only triggers (as the database owner could). Put them back with restoreAuditGuard. */
export function dropAuditGuard(db: Knex): Promise<void> {
  return removeAuditGuard(db);
}

/** Re-create the append-only triggers. */
export function restoreAuditGuard(db: Knex): Promise<void> {
  return installAuditGuard(db);
}

/** Run `fn` with the triggers dropped, and put them back afterwards (also when it throws). */
export async function withoutAuditGuard<T>(db: Knex, fn: () => Promise<T>): Promise<T> {
  await removeAuditGuard(db);
  try {
    return await fn();
  } finally {
    await installAuditGuard(db);
  }
}
