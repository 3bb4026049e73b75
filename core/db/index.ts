// The database: knex on SQLite (default, `sqlite3` driver) or PostgreSQL (`DATABASE_URL`).
// Also the one place where driver differences are normalised (booleans, JSON, bigint) and
// where transactions get after-commit hooks (events are published only after commit).
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Logger } from 'pino';
import type { AtriumConfig } from '../config/schema.ts';
import { DbCache, watchWrites } from '../cache.ts';

export type Db = Knex;
export type Trx = Knex.Transaction;

// pg returns int8 as a string; our int8 columns are epoch milliseconds and counts, which fit
// in a double. Parse them once here so both drivers hand the code the same types.
pg.types.setTypeParser(20, (v: string) => Number.parseInt(v, 10));

export function isPostgres(config: Pick<AtriumConfig, 'database'>): boolean {
  return config.database.url !== '';
}

export function sqlitePath(config: Pick<AtriumConfig, 'database' | 'dataDir'>): string {
  return resolve(config.dataDir, config.database.sqliteFile);
}

export function createDb(config: AtriumConfig, logger?: Logger): Db {
  if (isPostgres(config)) {
    const db = knexFactory({
      client: 'pg',
      connection: config.database.url,
      searchPath: config.database.schema ? [config.database.schema] : undefined,
      pool: { min: 0, max: config.database.poolMax },
      log: knexLog(logger),
    });
    attachCache(db, new DbCache(true), config);
    return db;
  }
  const file = sqlitePath(config);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  let writer: SqliteConnection | undefined;
  const db = knexFactory({
    client: 'sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    // The sqlite3 driver runs one statement at a time per connection; one writing connection keeps
    // SQLite's single writer simple and avoids SQLITE_BUSY between our own connections.
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) {
        // PRAGMA foreign_keys is a no-op inside a transaction, so it is set per connection here.
        conn.exec(
          `PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = ${config.database.busyTimeoutMs};`,
          (err) => {
            if (!err) writer = conn;
            done(err, conn);
          },
        );
      },
    },
    log: knexLog(logger),
  });
  const cache = new DbCache(false);
  // Another process's commit (a CLI command) changes the writing connection's data_version.
  cache.dataVersionReader = () =>
    new Promise((resolve) => {
      if (!writer) return resolve(-1);
      writer.get('PRAGMA data_version', [], (err, row) => resolve(err || !row ? -1 : Number(row.data_version)));
    });
  attachCache(db, cache, config);
  if (file !== ':memory:' && config.database.sqliteReaders > 0) attachReaders(db, file, config, logger);
  return db;
}

interface SqliteConnection {
  exec(sql: string, cb: (err: Error | null) => void): void;
  get(sql: string, params: unknown[], cb: (err: Error | null, row?: Record<string, unknown>) => void): void;
}

function attachCache(db: Db, cache: DbCache, config: AtriumConfig): void {
  cache.enabled = config.database.cache;
  watchWrites(db, cache);
}

/**
 * SQLite: reads outside a transaction go to a small pool of read-only connections, so they do not
 * queue behind each other (or behind a write) on the one writing connection. In WAL mode a reader
 * sees every transaction committed before its statement began, so a read after a write sees it.
 * Statements inside a transaction stay on the transaction's (writing) connection.
 */
function attachReaders(db: Db, file: string, config: AtriumConfig, logger?: Logger): void {
  const readers = knexFactory({
    client: 'sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      min: 0,
      max: config.database.sqliteReaders,
      afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) {
        conn.exec(`PRAGMA query_only = ON; PRAGMA busy_timeout = ${config.database.busyTimeoutMs};`, (err) => done(err, conn));
      },
    },
    log: knexLog(logger),
  });
  const base = db.client as unknown as ReadRouting;
  const rclient = readers.client as unknown as ReadRouting;
  for (const event of ['query', 'query-response', 'query-error']) rclient.on(event, (...args: unknown[]) => base.emit(event, ...args));
  const runner = base.runner.bind(base);
  base.runner = (builder: unknown) => (isPlainRead(builder) ? rclient.runner(builder) : runner(builder));
  const destroy = db.destroy.bind(db);
  Object.defineProperty(db, 'destroy', {
    configurable: true,
    value: async () => {
      await readers.destroy();
      return destroy();
    },
  });
}

interface ReadRouting {
  runner(builder: unknown): unknown;
  on(event: string, fn: (...args: unknown[]) => void): void;
  emit(event: string, ...args: unknown[]): void;
}

const READ_METHODS = new Set(['select', 'first', 'pluck']);

function isPlainRead(builder: unknown): boolean {
  const b = builder as { _method?: string; sql?: unknown; _single?: { lock?: unknown } };
  if (typeof b.sql === 'string' && b._method === undefined) return /^\s*select\s/i.test(b.sql);
  return b._method !== undefined && READ_METHODS.has(b._method) && !b._single?.lock;
}

function knexLog(logger?: Logger) {
  return {
    warn: (m: unknown) => logger?.warn({ knex: m }, 'knex warning'),
    error: (m: unknown) => logger?.error({ knex: m }, 'knex error'),
    deprecate: (m: unknown) => logger?.warn({ knex: m }, 'knex deprecation'),
    debug: () => {},
  };
}

// ---- normalisation: SQLite gives 1/0 and JSON text, pg gives booleans (our JSON is text on both)

export function toBool(v: unknown): boolean {
  return v === true || v === 1 || v === '1' || v === 't';
}

export function parseJson<T>(v: unknown, fallback: T): T {
  if (v === null || v === undefined || v === '') return fallback;
  if (typeof v !== 'string') return v as T;
  try {
    return JSON.parse(v) as T;
  } catch {
    return fallback;
  }
}

// ---- transactions with after-commit hooks

const afterCommitHooks = new WeakMap<object, Array<() => unknown>>();

/**
 * Run `fn` in a transaction. Hooks registered with `afterCommit(trx, ...)` run once the
 * transaction has committed, and never if it rolled back.
 */
export async function transaction<T>(db: Db, fn: (trx: Trx) => Promise<T>, onHookError?: (err: unknown) => void): Promise<T> {
  const hooks: Array<() => unknown> = [];
  const result = await db.transaction(async (trx) => {
    afterCommitHooks.set(trx, hooks);
    return fn(trx);
  });
  for (const hook of hooks) {
    try {
      await hook();
    } catch (err) {
      onHookError?.(err);
    }
  }
  return result;
}

/**
 * Defer `fn` until `trx` commits. Outside a transaction (`trx` is the plain knex instance) it
 * runs at once. A transaction not opened by `transaction()` cannot take hooks: that is a bug.
 */
export function afterCommit(trx: Db | Trx, fn: () => unknown): void {
  const hooks = afterCommitHooks.get(trx);
  if (hooks) {
    hooks.push(fn);
    return;
  }
  if ((trx as Trx).isTransaction) {
    throw new Error('afterCommit needs a transaction opened with transaction() from core/db');
  }
  queueMicrotask(() => void fn());
}

/** Is the database reachable? */
export async function ping(db: Db): Promise<boolean> {
  try {
    await db.raw('select 1');
    return true;
  } catch {
    return false;
  }
}

export function isPostgresClient(db: Db | Trx): boolean {
  return (db.client as { config: { client: string } }).config.client === 'pg';
}
