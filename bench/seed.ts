// Seeds a realistic firm for the page benchmark and the load test, fast: bulk multi-row inserts in
// one transaction per table, one argon2 hash shared by every account, and a valid audit hash chain
// (so `atrium audit:verify` still passes over the seeded log).
//
// Default size (issue 7): 1,000 workspaces, 50 staff, 3,000 client users, 100,000 files spread over
// the workspaces (about 100 each, some in folders, some delivered, some internal), 1,000,000 audit
// rows; plus two extra workspaces for the list-flatness test, with 1,000 and 100,000 files at their
// top level. The benchmark client (`bench.client@bench.example`) belongs to ws-0001 and to both.
//
//   node --import tsx bench/seed.ts [--data-dir DIR] [--workspaces N] [--files N] [--audit N]
//        [--staff N] [--clients N] [--big N] [--small N] [--sessions N] [--json]
// DATABASE_URL set: seeds that PostgreSQL database instead of SQLite in DIR.
// Migrations run first through `atrium migrate` (a child process), so the plugins' tables and
// indexes are exactly what the server uses.
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig, PROJECT_ROOT } from '../core/config/load.ts';
import { createDb, isPostgresClient, type Db } from '../core/db/index.ts';
import { PasswordHasher } from '../core/identity/passwords.ts';
import { chainHash, GENESIS_HASH, type AuditRow } from '../core/audit.ts';
import { newId, newToken, sha256Hex } from '../core/ids.ts';

export const BENCH_PASSWORD = 'bench passphrase for every seeded account';
export const BENCH_CLIENT = 'bench.client@bench.example';

export interface SeedOptions {
  dataDir: string;
  databaseUrl?: string;
  workspaces: number;
  files: number;
  audit: number;
  staff: number;
  clients: number;
  big: number;
  small: number;
  /** Create this many ready sessions (cookie tokens) for client users, for the load test. */
  sessions: number;
  log?: (line: string) => void;
}

export interface SeedResult {
  dataDir: string;
  databaseUrl: string;
  password: string;
  client: string;
  homeSlug: string;
  smallSlug: string | null;
  bigSlug: string | null;
  /** Session cookies for client users (load test): token, csrf and the user's workspace. */
  sessions: Array<{ token: string; csrf: string; slug: string; role: string; userId: string }>;
  counts: Record<string, number>;
  seconds: Record<string, number>;
}

export const DEFAULTS: Omit<SeedOptions, 'dataDir'> = { workspaces: 1000, files: 100_000, audit: 1_000_000, staff: 50, clients: 3000, big: 100_000, small: 1000, sessions: 0 };

/** The environment for child processes on this database: no stray ATRIUM_* from the caller. */
export function benchEnv(dataDir: string, databaseUrl = '', extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ATRIUM_') && k !== 'DATABASE_URL'));
  // The home's cards get all the time they need: under 50 connections a card would otherwise miss
  // its budget and the page measured would be the lighter one with "Loading…" cards.
  return { ...env, ATRIUM_DATA_DIR: dataDir, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), ATRIUM_LOG_LEVEL: 'warn', ATRIUM_WIDGET_BUDGET_MS: '60000', ...extra };
}

const pad = (n: number, w = 4) => String(n).padStart(w, '0');
const AUDIT_COLUMNS = ['seq', 'chain_seq', 'id', 'created_at', 'actor_id', 'workspace_id', 'action', 'subject_type', 'subject_id', 'ip', 'user_agent', 'detail', 'prev_hash', 'hash'] as const;

type SqliteConn = {
  prepare(sql: string): { run(params: unknown[], cb: (err: Error | null) => void): void; finalize(cb: () => void): void };
  exec(sql: string, cb: (err: Error | null) => void): void;
};

/**
 * Insert `rows` (all with the same keys, every NOT NULL column given: a multi-row insert on
 * SQLite writes NULL, not the default, for a missing key) in multi-row statements, in one
 * transaction. On SQLite through a prepared statement on the raw driver connection (knex writes a
 * multi-row insert there as a compound SELECT, capped at 500 terms and slow to build).
 */
export async function bulk(db: Db, table: string, rows: Array<Record<string, unknown>>): Promise<void> {
  if (!rows.length) return;
  const cols = Object.keys(rows[0]!);
  if (isPostgresClient(db)) {
    const size = Math.max(1, Math.min(1000, Math.floor(30_000 / cols.length)));
    await db.transaction(async (trx) => {
      for (let i = 0; i < rows.length; i += size) await trx(table).insert(rows.slice(i, i + size));
    });
    return;
  }
  const conn = (await db.client.acquireConnection()) as SqliteConn;
  const exec = (sql: string) => new Promise<void>((res, rej) => conn.exec(sql, (e) => (e ? rej(e) : res())));
  const size = Math.max(1, Math.min(500, Math.floor(30_000 / cols.length)));
  const tuple = `(${cols.map(() => '?').join(',')})`;
  const stmtFor = (k: number) => conn.prepare(`insert into ${table} (${cols.join(',')}) values ${Array(k).fill(tuple).join(',')}`);
  try {
    await exec('BEGIN');
    const full = stmtFor(size);
    for (let i = 0; i < rows.length; i += size) {
      const chunk = rows.slice(i, i + size);
      const stmt = chunk.length === size ? full : stmtFor(chunk.length);
      const params = chunk.flatMap((r) => cols.map((c) => (typeof r[c] === 'boolean' ? (r[c] ? 1 : 0) : r[c])));
      await new Promise<void>((res, rej) => stmt.run(params, (e) => (e ? rej(new Error(`bulk insert into ${table} failed: ${e.message}`)) : res())));
    }
    await new Promise<void>((res) => full.finalize(res));
    await exec('COMMIT');
  } catch (err) {
    await exec('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    db.client.releaseConnection(conn);
  }
}

/** Each chain's head after the generated rows, for audit_heads: chain -> [chain_seq, hash]. */
export type AuditHeads = Map<string, [number, string]>;

/**
 * Audit rows chained per workspace as AuditService.record chains them (a chain per workspace, a
 * firm chain for rows without one), generated in chunks with the kernel's own chainHash (also
 * bench/audit-verify.ts). `heads` is filled with every chain's head, to write to audit_heads.
 */
export function* auditChunks(n: number, size: number, actors: string[], workspaces: string[], files: string[], heads: AuditHeads = new Map()): Generator<AuditRow[]> {
  const actions = ['core.session.login', 'files.file.download', 'files.version.upload', 'files.file.download', 'core.session.logout', 'files.file.delivered', 'core.member.add'];
  const UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
  const t0 = Date.now() - n * 1000 - 86_400_000;
  let chunk: AuditRow[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const at = t0 + seq * 1000;
    const workspaceId = seq % 9 === 0 ? null : workspaces[(seq * 7) % workspaces.length]!;
    const [chainSeq, prev] = heads.get(workspaceId ?? '') ?? [0, GENESIS_HASH];
    const base = {
      seq,
      chain_seq: chainSeq + 1,
      id: newId(at),
      created_at: at,
      actor_id: actors[(seq * 31) % actors.length]!,
      workspace_id: workspaceId,
      action: actions[seq % actions.length]!,
      subject_type: 'File',
      subject_id: files.length ? files[(seq * 7919) % files.length]! : null,
      ip: `203.0.113.${seq % 250}`,
      user_agent: UA,
      detail: JSON.stringify({ name: `Report ${seq % 97}.pdf`, bytes: (seq * 31) % 5_000_000 }),
    };
    const hash = chainHash(base, prev);
    chunk.push({ ...base, prev_hash: prev, hash });
    heads.set(workspaceId ?? '', [base.chain_seq, hash]);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length) yield chunk;
}

/** Appends `n` rows after the current head, on the raw sqlite3 connection (prepared 500-row insert). */
async function auditSqlite(db: Db, n: number, actors: string[], workspaces: string[], files: string[]): Promise<void> {
  if (await db('audit_events').first('seq')) throw new Error('the audit log is not empty: seed a fresh database');
  const conn = (await db.client.acquireConnection()) as SqliteConn;
  const exec = (sql: string) => new Promise<void>((res, rej) => conn.exec(sql, (e) => (e ? rej(e) : res())));
  const all = (sql: string) => new Promise<Array<Record<string, unknown>>>((res, rej) => (conn as unknown as { all(s: string, p: unknown[], cb: (e: Error | null, r: Array<Record<string, unknown>>) => void): void }).all(sql, [], (e, r) => (e ? rej(e) : res(r))));
  try {
    await exec('BEGIN');
    // Building the secondary indexes once at the end (sorted) is cheaper than a million random
    // inserts into each: drop them here and recreate them with their own SQL before COMMIT.
    const indexes = process.env.BENCH_SEED_KEEP_INDEXES ? [] : ((await all("select name, sql from sqlite_master where type = 'index' and tbl_name = 'audit_events' and sql is not null")) as Array<{ name: string; sql: string }>);
    for (const ix of indexes) await exec(`drop index ${ix.name}`);
    const size = 500;
    const tuple = `(${AUDIT_COLUMNS.map(() => '?').join(',')})`;
    const stmtFor = (k: number) => conn.prepare(`insert into audit_events (${AUDIT_COLUMNS.join(',')}) values ${Array(k).fill(tuple).join(',')}`);
    const full = stmtFor(size);
    const heads: AuditHeads = new Map();
    // The driver inserts on its own thread: the next chunk is hashed while the previous one is written.
    let pending: Promise<void> = Promise.resolve();
    for (const rows of auditChunks(n, size, actors, workspaces, files, heads)) {
      const stmt = rows.length === size ? full : stmtFor(rows.length);
      const params = rows.flatMap((r) => AUDIT_COLUMNS.map((c) => r[c]));
      await pending;
      pending = new Promise<void>((res, rej) => stmt.run(params, (e) => (e ? rej(e) : res())));
    }
    await pending;
    await new Promise<void>((res) => full.finalize(res));
    for (const [chain, [seq, hash]] of heads) await exec(`insert into audit_heads (chain, seq, hash) values ('${chain}', ${seq}, '${hash}')`);
    for (const ix of indexes) await exec(ix.sql);
    await exec('COMMIT');
  } catch (err) {
    await exec('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    db.client.releaseConnection(conn);
  }
}

/** PostgreSQL: 10,000 rows per statement as one array parameter per column. */
async function auditPostgres(db: Db, n: number, actors: string[], workspaces: string[], files: string[]): Promise<void> {
  const types = ['bigint', 'bigint', 'text', 'bigint', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text'];
  const sql = `insert into audit_events (${AUDIT_COLUMNS.join(',')}) select * from unnest(${types.map((t) => `?::${t}[]`).join(',')})`;
  await db.transaction(async (trx) => {
    if (await trx('audit_events').first('seq')) throw new Error('the audit log is not empty: seed a fresh database');
    const heads: AuditHeads = new Map();
    let pending: Promise<unknown> = Promise.resolve();
    for (const rows of auditChunks(n, 10_000, actors, workspaces, files, heads)) {
      const params = AUDIT_COLUMNS.map((c) => rows.map((r) => r[c]));
      await pending;
      pending = trx.raw(sql, params as never).then((r) => r);
    }
    await pending;
    const all = [...heads].map(([chain, [seq, hash]]) => ({ chain, seq, hash }));
    for (let i = 0; i < all.length; i += 1000) await trx('audit_heads').insert(all.slice(i, i + 1000));
    // The server's appends draw seq from this sequence: start it past the seeded rows.
    await trx.raw(`select setval('audit_events_seq', ?)`, [n]);
  });
}

export async function seed(o: SeedOptions): Promise<SeedResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const seconds: Record<string, number> = {};
  const t0 = performance.now();
  let lap = t0;
  const step = (name: string, detail = '') => {
    const now = performance.now();
    seconds[name] = Math.round((now - lap) / 10) / 100;
    lap = now;
    log(`  seed: ${name}${detail ? ` (${detail})` : ''} ${seconds[name]!.toFixed(2)} s`);
  };

  // 1. Migrations, by the real command (kernel + enabled plugins, in dependency order).
  const mig = spawnSync(process.execPath, ['bin/atrium.js', 'migrate'], { cwd: PROJECT_ROOT, env: benchEnv(o.dataDir, o.databaseUrl), encoding: 'utf8' });
  if (mig.status !== 0) throw new Error(`atrium migrate failed: ${mig.stdout}${mig.stderr}`);
  step('migrate');

  const config = loadConfig({ env: {}, overrides: { dataDir: o.dataDir, database: { url: o.databaseUrl ?? '', poolMax: 2 }, log: { level: 'warn' } } });
  const db = createDb(config, pino({ level: 'warn' }));
  const pgsql = isPostgresClient(db);
  try {
    // SQLite: the seed is the only connection and a crash just means seeding again, so write the
    // data once (no WAL copy, no fsync per commit) with a cache big enough for the indexes.
    // The server's own connection goes back to WAL + synchronous=FULL (core/db) when it opens.
    if (!pgsql) await db.raw('PRAGMA journal_mode = OFF').then(() => db.raw('PRAGMA synchronous = OFF')).then(() => db.raw('PRAGMA cache_size = -1048576'));
    const passwordHash = await new PasswordHasher(config.auth).hash(BENCH_PASSWORD);
    step('one argon2 hash');
    const now = Date.now();
    const day = 86_400_000;

    // 2. People, workspaces, memberships, folders, files, notifications: one transaction.
    const users: Array<Record<string, unknown>> = [];
    const person = (email: string, name: string, firmRole: string | null, i: number) => {
      const id = newId(now - 400 * day + i * 1000);
      users.push({ id, email, name, password_hash: passwordHash, firm_role: firmRole, disabled: false, created_at: now - 400 * day, first_login_at: now - 300 * day, last_login_at: now - (i % 30) * day, notify_pref: 'immediately' });
      return id;
    };
    const owner = person('owner@bench.example', 'Olivia Owner', 'owner', 0);
    const staff = Array.from({ length: o.staff }, (_, i) => person(`staff${pad(i + 1, 3)}@bench.example`, `Staff Member ${pad(i + 1, 3)}`, 'staff', i + 1));
    const clients = Array.from({ length: o.clients }, (_, i) => person(`client${pad(i + 1, 5)}@clients.example`, `Client Person ${pad(i + 1, 5)}`, null, i + 100));
    const benchClient = person(BENCH_CLIENT, 'Bench Client', null, 99_999);

    const workspaces: Array<{ id: string; slug: string; name: string; files: number; root: boolean }> = [];
    for (let i = 1; i <= o.workspaces; i++) workspaces.push({ id: newId(now - 390 * day + i), slug: `ws-${pad(i)}`, name: `Client ${pad(i)} Holdings`, files: 0, root: false });
    const small = o.small > 0 ? { id: newId(), slug: 'list-1k', name: 'List benchmark (1k files)', files: o.small, root: true } : null;
    const big = o.big > 0 ? { id: newId(), slug: 'list-100k', name: 'List benchmark (100k files)', files: o.big, root: true } : null;
    // Spread the firm's files over its workspaces (the remainder goes to the first ones).
    for (let i = 0; i < workspaces.length; i++) workspaces[i]!.files = Math.floor(o.files / workspaces.length) + (i < o.files % workspaces.length ? 1 : 0);
    const allWs = [...workspaces, ...(small ? [small] : []), ...(big ? [big] : [])];

    const memberships: Array<Record<string, unknown>> = [];
    const member = (user: string, ws: string, role: string) => memberships.push({ id: newId(), user_id: user, workspace_id: ws, role, created_at: now - 380 * day });
    // Each client person belongs to one workspace (three per workspace); two staff per workspace.
    const clientRoles = ['client_admin', 'client_member', 'client_viewer'];
    const wsClients = new Map<string, Array<{ id: string; role: string }>>();
    clients.forEach((c, i) => {
      const ws = workspaces[i % workspaces.length]!;
      const role = clientRoles[Math.floor(i / workspaces.length) % 3]!;
      member(c, ws.id, role);
      wsClients.set(ws.slug, [...(wsClients.get(ws.slug) ?? []), { id: c, role }]);
    });
    workspaces.forEach((ws, i) => {
      if (!staff.length) return;
      member(staff[i % staff.length]!, ws.id, 'staff');
      if (staff.length > 1) member(staff[(i + 1) % staff.length]!, ws.id, 'staff');
    });
    member(benchClient, workspaces[0]!.id, 'client_admin');
    for (const ws of [small, big]) if (ws) {
      member(benchClient, ws.id, 'client_admin');
      if (staff[0]) member(staff[0], ws.id, 'staff');
    }

    const folders: Array<Record<string, unknown>> = [];
    const files: Array<Record<string, unknown>> = [];
    const fileIds: string[] = [];
    const kinds = [
      ['Quarterly report', 'pdf', 'application/pdf'],
      ['Board minutes', 'docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
      ['Budget', 'xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
      ['Site photo', 'jpg', 'image/jpeg'],
      ['Contract', 'pdf', 'application/pdf'],
    ] as const;
    for (const ws of allWs) {
      const wsFolders = ws.root
        ? []
        : [
            { name: 'Deliverables', area: 'shared', access: 'view' },
            { name: 'Uploads from you', area: 'shared', access: 'upload' },
            { name: 'Contracts', area: 'shared', access: 'view' },
            { name: 'Internal notes', area: 'internal', access: 'view' },
          ].map((f) => {
            const id = newId(now - 370 * day);
            folders.push({ id, workspace_id: ws.id, parent_id: null, name: f.name, area: f.area, client_access: f.access, created_by: staff[0] ?? owner, created_at: now - 370 * day, deleted_at: null });
            return { id, area: f.area };
          });
      for (let j = 0; j < ws.files; j++) {
        const [label, ext, type] = kinds[j % kinds.length]!;
        // Normal workspaces: 40% at the top level, the rest in folders. List workspaces: all at the top.
        const folder = ws.root || j % 5 < 2 || !wsFolders.length ? null : wsFolders[j % wsFolders.length]!;
        const area = folder ? folder.area : ws.root || j % 10 !== 9 ? 'shared' : 'internal';
        const name = `${label} ${pad(j + 1, 6)}.${ext}`;
        const at = now - ((j * 7919) % 365) * day - j;
        const id = newId(at);
        fileIds.push(id);
        const delivered = area === 'shared' && j % 10 === 3;
        files.push({
          id, workspace_id: ws.id, folder_id: folder?.id ?? null, name, name_key: name.toLowerCase(), area, current_version_id: null,
          size: 20_000 + ((j * 104_729) % 5_000_000), content_type: type, delivered_at: delivered ? at : null, delivered_by: delivered ? (staff[0] ?? owner) : null,
          created_by: staff[0] ?? owner, created_at: at, updated_at: at, deleted_at: null, deleted_by: null,
        });
      }
    }
    const notifications: Array<Record<string, unknown>> = [];
    for (const [i, c] of [...clients, benchClient].entries()) {
      for (let k = 0; k < 3; k++) {
        const ws = workspaces[i % workspaces.length]!;
        notifications.push({ id: newId(), user_id: c, workspace_id: ws.id, kind: 'files.deliverable', subject: `New deliverable ${k + 1}`, body: 'A file was delivered to your workspace.', link: `/w/${ws.slug}/files/`, state: 'mailed', created_at: now - k * day, digested_at: null });
      }
    }
    step('generate rows');

    await bulk(db, 'users', users);
    await bulk(db, 'workspaces', allWs.map((w) => ({ id: w.id, slug: w.slug, name: w.name, settings: '{}', archived: false, created_at: now - 390 * day })));
    await bulk(db, 'memberships', memberships);
    await bulk(db, 'notifications', notifications);
    await bulk(db, 'files_folders', folders);
    step('people and workspaces', `${users.length} users, ${allWs.length} workspaces, ${memberships.length} memberships`);
    await bulk(db, 'files_files', files);
    step('files', `${files.length} rows`);

    // 3. The audit log, chained.
    const actors = [owner, ...staff, ...clients];
    const wsIds = workspaces.map((w) => w.id);
    if (o.audit > 0) {
      if (pgsql) await auditPostgres(db, o.audit, actors, wsIds, fileIds);
      else await auditSqlite(db, o.audit, actors, wsIds, fileIds);
    }
    step('audit', `${o.audit} chained rows`);

    // 4. Ready sessions for the load test's simulated people (their cookies; the table keeps hashes).
    const sessions: SeedResult['sessions'] = [];
    if (o.sessions > 0) {
      const rows: Array<Record<string, unknown>> = [];
      const candidates = workspaces.flatMap((w) => (wsClients.get(w.slug) ?? []).map((c) => ({ ...c, slug: w.slug })));
      for (let i = 0; i < o.sessions && candidates.length; i++) {
        // Take one person per workspace first, so the users are spread over many workspaces.
        const c = candidates[(i % workspaces.length) * 3 + Math.floor(i / workspaces.length)] ?? candidates[i % candidates.length]!;
        const token = newToken();
        const csrf = newToken();
        rows.push({ id_hash: sha256Hex(token), user_id: c.id, csrf_token: csrf, created_at: Date.now(), last_seen_at: Date.now(), expires_at: Date.now() + 12 * 3_600_000, auth_at: Date.now(), mfa_pending: false, ip: '127.0.0.1', user_agent: 'atrium-load', data: '{}' });
        sessions.push({ token, csrf, slug: c.slug, role: c.role, userId: c.id });
      }
      await bulk(db, 'sessions', rows);
      step('sessions', String(rows.length));
    }
    if (pgsql) {
      await db.raw('analyze');
      step('analyze');
    } else {
      await db.raw('PRAGMA journal_mode = WAL');
    }
    const total = Math.round((performance.now() - t0) / 10) / 100;
    seconds.total = total;
    log(`  seed: done in ${total.toFixed(1)} s`);
    return {
      dataDir: o.dataDir,
      databaseUrl: o.databaseUrl ?? '',
      password: BENCH_PASSWORD,
      client: BENCH_CLIENT,
      homeSlug: workspaces[0]!.slug,
      smallSlug: small?.slug ?? null,
      bigSlug: big?.slug ?? null,
      sessions,
      counts: { users: users.length, workspaces: allWs.length, memberships: memberships.length, folders: folders.length, files: files.length, audit: o.audit, notifications: notifications.length },
      seconds,
    };
  } finally {
    await db.destroy();
  }
}

// ---- command line
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      workspaces: { type: 'string' },
      files: { type: 'string' },
      audit: { type: 'string' },
      staff: { type: 'string' },
      clients: { type: 'string' },
      big: { type: 'string' },
      small: { type: 'string' },
      sessions: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
  const dataDir = values['data-dir'] ?? mkdtempSync(join(tmpdir(), 'atrium-bench-seed-'));
  const opts: SeedOptions = {
    dataDir,
    databaseUrl: process.env.DATABASE_URL ?? '',
    workspaces: num(values.workspaces, DEFAULTS.workspaces),
    files: num(values.files, DEFAULTS.files),
    audit: num(values.audit, DEFAULTS.audit),
    staff: num(values.staff, DEFAULTS.staff),
    clients: num(values.clients, DEFAULTS.clients),
    big: num(values.big, DEFAULTS.big),
    small: num(values.small, DEFAULTS.small),
    sessions: num(values.sessions, DEFAULTS.sessions),
  };
  console.log(`seeding ${opts.databaseUrl ? 'PostgreSQL' : `SQLite in ${dataDir}`}`);
  const r = await seed(opts);
  if (values.json) console.log(JSON.stringify({ ...r, sessions: r.sessions.length }));
}
