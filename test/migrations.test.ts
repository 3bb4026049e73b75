// Per-plugin migrations, on whichever database the suite runs on (SQLite, or PostgreSQL with
// DATABASE_URL): kernel first, each plugin tracked in its own table, a failed one rolled back.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { startApp, freshDatabase, testConfig, FIXTURE, fixturePlugin, ON_PG } from './helpers/app.ts';
import { boot } from '../core/boot.ts';
import { createDb } from '../core/db/index.ts';
import { CORE_MIGRATIONS, migrateAll, migrationStatus } from '../core/db/migrations.ts';
import { AtriumError } from '../core/errors.ts';

const test = suite('migrations');

async function columns(db: ReturnType<typeof createDb>, table: string): Promise<string[]> {
  return Object.keys(await db(table).columnInfo());
}

test(`kernel and plugin migrations each tracked in their own table (${ON_PG ? 'PostgreSQL' : 'SQLite'})`, async () => {
  const app = await startApp({ plugins: [FIXTURE] });
  const db = app.kernel.db;
  assert.ok(await db.schema.hasTable('knex_migrations__core'));
  assert.ok(await db.schema.hasTable('knex_migrations__fixture'));
  const core = await db('knex_migrations__core').pluck('name');
  const fixture = await db('knex_migrations__fixture').orderBy('id').pluck('name');
  assert.is(core[0], '20261127000000_core_init');
  assert.ok(core.includes('20261128000000_identity'), 'the identity migration is tracked in the kernel table');
  assert.equal(fixture, ['20261127100000_fixture_notes', '20261127100001_fixture_note_pinned', '20261127100002_fixture_areas_comments']);
  assert.ok((await columns(db, 'fixture_notes')).includes('pinned'));
  const status = await migrationStatus(db, app.kernel.migrationSets);
  assert.equal(status.map((s) => [s.id, s.pending.length]), [['core', 0], ['fixture', 0]]);
  await app.close();
});

test('with migrateOnStart off, pending migrations stop boot with ATR_NOT_MIGRATED', async () => {
  const db = await freshDatabase();
  try {
    const config = testConfig(db, { plugins: [FIXTURE], overrides: { database: { migrateOnStart: false } } });
    try {
      await boot({ config, logger: pino({ level: 'silent' }) });
      assert.unreachable();
    } catch (err) {
      assert.is((err as AtriumError).code, 'ATR_NOT_MIGRATED');
      assert.match((err as AtriumError).message, 'core');
    }
    // `atrium migrate` by hand (the same function), then boot succeeds without migrating.
    const knex = createDb(config);
    await migrateAll(knex, [CORE_MIGRATIONS, { id: 'fixture', dir: new URL('./fixtures/plugins/fixture/migrations', import.meta.url).pathname }]);
    await knex.destroy();
    const k = await boot({ config, logger: pino({ level: 'silent' }), listen: false });
    await k.stop();
  } finally {
    await db.drop();
  }
});

test('a failing migration leaves the schema as it was and names the plugin', async () => {
  const db = await freshDatabase();
  try {
    const config = testConfig(db, { plugins: [fixturePlugin('broken-migration')] });
    try {
      await boot({ config, logger: pino({ level: 'silent' }) });
      assert.unreachable();
    } catch (err) {
      assert.is((err as AtriumError).code, 'ATR_MIGRATION_FAILED');
      assert.match((err as AtriumError).message, 'broken-migration');
    }
    const knex = createDb(config);
    try {
      // A plugin's pending migrations run in one transaction: the failure took the whole batch
      // back, so the schema is exactly as it was before (the kernel's own batch had committed).
      assert.ok(await knex.schema.hasTable('users'));
      assert.not.ok(await knex.schema.hasTable('broken_migration_ok'));
      assert.not.ok(await knex.schema.hasTable('broken_migration_half'));
      assert.equal(await knex('knex_migrations__broken_migration').pluck('name'), []);
      // And a retry fails the same way, still leaving the schema intact.
      const again = await boot({ config, logger: pino({ level: 'silent' }) }).catch((e: AtriumError) => e);
      assert.is((again as AtriumError).code, 'ATR_MIGRATION_FAILED');
      assert.not.ok(await knex.schema.hasTable('broken_migration_half'));
    } finally {
      await knex.destroy();
    }
  } finally {
    await db.drop();
  }
});

test('migrations roll back in reverse (down) per plugin', async () => {
  const app = await startApp({ plugins: [FIXTURE] });
  const { migratorConfig } = await import('../core/db/migrations.ts');
  const set = app.kernel.migrationSets.find((s) => s.id === 'fixture')!;
  await app.kernel.db.migrate.rollback(migratorConfig(set), true);
  assert.not.ok(await app.kernel.db.schema.hasTable('fixture_notes'));
  assert.ok(await app.kernel.db.schema.hasTable('users'), 'kernel tables untouched');
  await app.close();
});

if (!ON_PG) {
  test('SQLite runs with WAL, foreign keys on, a busy timeout and synchronous=FULL', async () => {
    const app = await startApp();
    const db = app.kernel.db;
    const first = (rows: unknown) => Object.values((rows as Array<Record<string, unknown>>)[0]!)[0];
    assert.is(String(first(await db.raw('PRAGMA journal_mode'))).toLowerCase(), 'wal');
    assert.is(Number(first(await db.raw('PRAGMA foreign_keys'))), 1);
    assert.is(Number(first(await db.raw('PRAGMA busy_timeout'))), 5000);
    assert.is(Number(first(await db.raw('PRAGMA synchronous'))), 2);
    await app.close();
  });
}

test.run();
