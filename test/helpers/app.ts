// Boots a real Atrium on a free port for one test file: a fresh SQLite file, or with
// DATABASE_URL set, a fresh PostgreSQL schema in that database. Nothing is shared between apps.
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import pino from 'pino';
import { boot, type Kernel } from '../../core/boot.ts';
import { loadConfig, deepMerge } from '../../core/config/load.ts';
import type { Clock } from '../../core/clock.ts';
import { HttpClient } from './http.ts';

export const PG_URL = process.env.DATABASE_URL ?? '';
export const ON_PG = PG_URL !== '';
export const FIXTURE = './test/fixtures/plugins/fixture';
export const fixturePlugin = (name: string) => `./test/fixtures/plugins/${name}`;

/** Lowest argon2id cost SECURITY.md allows, so tests hash in milliseconds. */
export const FAST_AUTH = { argon2MemoryKiB: 19456, argon2Iterations: 2 };

export interface TestDb {
  overrides: Record<string, unknown>;
  dataDir: string;
  drop(): Promise<void>;
}

/** A fresh database (and data folder) for one app: SQLite file, or a new PostgreSQL schema. */
export async function freshDatabase(): Promise<TestDb> {
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-test-'));
  if (!ON_PG) {
    return { dataDir, overrides: { dataDir, database: { url: '', sqliteFile: 'atrium.db' } }, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 1 } });
  await admin.raw(`create schema ${schema}`);
  await admin.destroy();
  return {
    dataDir,
    overrides: { dataDir, database: { url: PG_URL, schema, poolMax: 4 } },
    drop: async () => {
      const a = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 1 } });
      await a.raw(`drop schema if exists ${schema} cascade`);
      await a.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestApp {
  kernel: Kernel;
  url: string;
  db: TestDb;
  client(): HttpClient;
  close(): Promise<void>;
}

export interface StartOptions {
  plugins?: string[];
  theme?: string;
  overrides?: Record<string, unknown>;
  clock?: Clock;
  logger?: pino.Logger;
  /** Reuse a database from freshDatabase() (for restart tests). */
  db?: TestDb;
}

export function testConfig(db: TestDb, opts: StartOptions = {}) {
  const base = {
    env: 'test',
    host: '127.0.0.1',
    port: 0,
    baseUrl: 'http://127.0.0.1:3000',
    plugins: { enabled: opts.plugins ?? [], settings: {} },
    theme: opts.theme ?? 'default',
    log: { level: 'silent' },
    auth: FAST_AUTH,
  };
  return loadConfig({ env: {}, file: join(process.cwd(), 'config/default.json'), overrides: deepMerge(deepMerge(base, db.overrides), opts.overrides ?? {}) });
}

export async function startApp(opts: StartOptions = {}): Promise<TestApp> {
  const db = opts.db ?? (await freshDatabase());
  const config = testConfig(db, opts);
  let kernel: Kernel;
  try {
    kernel = await boot({ config, logger: opts.logger ?? pino({ level: 'silent' }), clock: opts.clock });
  } catch (err) {
    if (!opts.db) await db.drop();
    throw err;
  }
  return {
    kernel,
    url: kernel.url,
    db,
    client: () => new HttpClient(kernel.url),
    close: async () => {
      await kernel.stop();
      if (!opts.db) await db.drop();
    },
  };
}

/** Create the owner through /setup and return a client signed in as them. */
export async function setupOwner(app: TestApp, opts: { demo?: boolean; password?: string } = {}) {
  const c = app.client();
  const password = opts.password ?? 'correct-horse-battery-staple';
  const res = await c.postForm('/setup', { firmName: 'Harbor & Vale LLP', name: 'Olivia Owner', email: 'owner@harbor.example', password, ...(opts.demo ? { demo: 'yes' } : {}) });
  if (res.status !== 303) throw new Error(`setup failed: ${res.status} ${res.text.slice(0, 500)}`);
  return { client: c, email: 'owner@harbor.example', password };
}

export const DEMO_PASSWORD = 'demo-password-for-tests';

/**
 * Environment for running `bin/atrium.js` as a child process against `db`: the caller's
 * environment without any ATRIUM_*, DATABASE_URL or PORT, plus this database and fast hashing.
 */
export function cliEnv(db: TestDb, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ATRIUM_') && k !== 'DATABASE_URL' && k !== 'PORT'));
  const dbo = db.overrides.database as { url: string; schema?: string };
  return {
    ...clean,
    ATRIUM_DATA_DIR: db.dataDir,
    ATRIUM_LOG_LEVEL: 'warn',
    ATRIUM_ARGON2_MEMORY_KIB: String(FAST_AUTH.argon2MemoryKiB),
    ATRIUM_ARGON2_ITERATIONS: String(FAST_AUTH.argon2Iterations),
    ...(dbo.url ? { DATABASE_URL: dbo.url } : {}),
    ...(dbo.schema ? { ATRIUM_DB_SCHEMA: dbo.schema } : {}),
    ...extra,
  };
}
