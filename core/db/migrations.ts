// Per-plugin migrations. The kernel's run first (tracked in knex_migrations__core), then each
// enabled plugin's in dependency order, each in its own table `knex_migrations__<id>`.
// knex runs one plugin's pending migrations in a single transaction: a failing migration takes
// the whole batch back, leaving that plugin's schema exactly as it was before the run.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { AtriumError } from '../errors.ts';
import type { Db } from './index.ts';

export interface MigrationSet {
  /** `core` or a plugin id. */
  id: string;
  /** Folder of timestamp-named migration files, each exporting `up(knex)` and `down(knex)`. */
  dir: string | undefined;
}

export const CORE_MIGRATIONS: MigrationSet = { id: 'core', dir: fileURLToPath(new URL('./migrations', import.meta.url)) };

const MIGRATION_FILE = /^\d{8,}_[a-z0-9_-]+\.(ts|js|mjs)$/i;

class FolderSource implements Knex.MigrationSource<string> {
  constructor(private readonly dir: string) {}
  async getMigrations(): Promise<string[]> {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((f) => MIGRATION_FILE.test(f) && !f.endsWith('.d.ts')).sort();
  }
  getMigrationName(name: string): string {
    // Recorded without extension so a .ts migration and its built .js are the same migration.
    return name.replace(/\.(ts|js|mjs)$/, '');
  }
  async getMigration(name: string): Promise<Knex.Migration> {
    const mod = (await import(pathToFileURL(join(this.dir, name)).href)) as Partial<Knex.Migration> & { default?: Partial<Knex.Migration> };
    const m = typeof mod.up === 'function' ? mod : mod.default;
    if (typeof m?.up !== 'function' || typeof m.down !== 'function') throw new Error(`${name} must export up() and down()`);
    return m as Knex.Migration;
  }
}

export function migratorConfig(set: MigrationSet): Knex.MigratorConfig {
  return {
    tableName: `knex_migrations__${set.id.replace(/-/g, '_')}`,
    migrationSource: new FolderSource(set.dir ?? '/nonexistent'),
    disableMigrationsListValidation: false,
  };
}

export interface MigrationStatus {
  id: string;
  completed: string[];
  pending: string[];
}

export async function migrationStatus(db: Db, sets: MigrationSet[]): Promise<MigrationStatus[]> {
  const out: MigrationStatus[] = [];
  for (const set of sets) {
    // With a custom migration source, knex lists pending migrations as the source's own items.
    const [completed, pending] = (await db.migrate.list(migratorConfig(set))) as [Array<{ name: string }>, Array<string | { file: string }>];
    out.push({
      id: set.id,
      completed: completed.map((c) => c.name),
      pending: pending.map((p) => (typeof p === 'string' ? p : p.file).replace(/\.(ts|js|mjs)$/, '')),
    });
  }
  return out;
}

/** Run every pending migration, set by set, in the order given (kernel first, then plugins). */
export async function migrateAll(db: Db, sets: MigrationSet[], logger?: Logger): Promise<Array<{ id: string; ran: string[] }>> {
  const ran: Array<{ id: string; ran: string[] }> = [];
  for (const set of sets) {
    if (!set.dir) continue;
    try {
      const [, log] = (await db.migrate.latest(migratorConfig(set))) as [number, string[]];
      if (log.length) logger?.info({ plugin: set.id, migrations: log }, 'migrated');
      ran.push({ id: set.id, ran: log });
    } catch (err) {
      throw new AtriumError('ATR_MIGRATION_FAILED', `${set.id}: ${(err as Error).message}`, { cause: err, details: { plugin: set.id } });
    }
  }
  return ran;
}

export async function hasPending(db: Db, sets: MigrationSet[]): Promise<string[]> {
  const status = await migrationStatus(db, sets.filter((s) => s.dir));
  return status.filter((s) => s.pending.length > 0).map((s) => s.id);
}
