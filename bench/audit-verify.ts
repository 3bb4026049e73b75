// `atrium audit:verify` over a large log: generates N valid audit rows (default 1,000,000),
// hash-chained per workspace (120 workspaces and the firm chain), straight into a fresh SQLite database (and, when DATABASE_URL is set, a throwaway
// PostgreSQL schema), then times AuditService.verify, the function the command runs. On SQLite it
// also times the command itself as a real process (start-up included). Prints the figures.
//   node --import tsx bench/audit-verify.ts [rows]
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { loadConfig, PROJECT_ROOT } from '../core/config/load.ts';
import { createServices, type Services } from '../core/services.ts';
import { CORE_MIGRATIONS, migrateAll } from '../core/db/migrations.ts';
import { newId } from '../core/ids.ts';
import { systemClock } from '../core/clock.ts';
import { auditChunks, type AuditHeads } from './seed.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const RUNS = 5;
const COLUMNS = ['seq', 'chain_seq', 'id', 'created_at', 'actor_id', 'workspace_id', 'action', 'subject_type', 'subject_id', 'ip', 'user_agent', 'detail', 'prev_hash', 'hash'] as const;
const logger = pino({ level: 'warn' });

// Realistic rows (a few hundred people and workspaces, a browser user agent, a small detail),
// from the same generator as the bench seed.
const actors = Array.from({ length: 300 }, () => newId());
const workspaces = Array.from({ length: 120 }, () => newId());
const chunks = (size: number, heads: AuditHeads) => auditChunks(N, size, actors, workspaces, [], heads);

type SqliteConn = {
  prepare(sql: string): { run(params: unknown[], cb: (err: Error | null) => void): void; finalize(cb: () => void): void };
  exec(sql: string, cb: (err: Error | null) => void): void;
};

/** Bulk insert on SQLite: one transaction, a prepared 500-row INSERT (14 x 500 < 32766 variables). */
async function fillSqlite(s: Services): Promise<void> {
  const conn = (await s.db.client.acquireConnection()) as SqliteConn;
  const exec = (sql: string) => new Promise<void>((res, rej) => conn.exec(sql, (e) => (e ? rej(e) : res())));
  try {
    await exec('BEGIN');
    const size = 500;
    const tuple = `(${COLUMNS.map(() => '?').join(',')})`;
    const full = conn.prepare(`insert into audit_events (${COLUMNS.join(',')}) values ${Array(size).fill(tuple).join(',')}`);
    const heads: AuditHeads = new Map();
    for (const rows of chunks(size, heads)) {
      const params = rows.flatMap((r) => COLUMNS.map((c) => r[c]));
      const stmt = rows.length === size ? full : conn.prepare(`insert into audit_events (${COLUMNS.join(',')}) values ${Array(rows.length).fill(tuple).join(',')}`);
      await new Promise<void>((res, rej) => stmt.run(params, (e) => (e ? rej(e) : res())));
    }
    await new Promise<void>((res) => full.finalize(res));
    for (const [chain, [seq, hash]] of heads) await exec(`insert into audit_heads (chain, seq, hash) values ('${chain}', ${seq}, '${hash}')`);
    await exec('COMMIT');
  } finally {
    s.db.client.releaseConnection(conn);
  }
}

/** Bulk insert on PostgreSQL: 10,000 rows per statement as one array parameter per column. */
async function fillPostgres(s: Services): Promise<void> {
  const types = ['bigint', 'bigint', 'text', 'bigint', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text'];
  const sql = `insert into audit_events (${COLUMNS.join(',')}) select * from unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(',')})`;
  await s.db.transaction(async (trx) => {
    const heads: AuditHeads = new Map();
    for (const rows of chunks(10_000, heads)) {
      await trx.raw(sql.replace(/\$\d+/g, '?'), COLUMNS.map((c) => rows.map((r) => r[c])) as never);
    }
    await trx('audit_heads').insert([...heads].map(([chain, [seq, hash]]) => ({ chain, seq, hash })));
  });
}

async function timeVerify(s: Services): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const r = await s.audit.verify(s.db);
    times.push(performance.now() - t);
    if (!r.ok || r.count !== N) throw new Error(`verify did not pass over the generated log: ${JSON.stringify(r)}`);
  }
  return times;
}

/** The command as an operator runs it: a new process, config, migrations check, the walk. */
function timeCommand(env: NodeJS.ProcessEnv): Promise<{ ms: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, ['bin/atrium.js', 'audit:verify'], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += String(c)));
    child.stderr.on('data', (c: Buffer) => (out += String(c)));
    child.on('exit', (code) => (code === 0 ? resolve({ ms: performance.now() - t, out: out.trim() }) : reject(new Error(`audit:verify exited ${code}: ${out}`))));
  });
}

// The machine may be shared: the load average is printed beside the figures so they can be judged.
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Record<string, unknown> = { bench: 'audit-verify', rows: N };
console.log(`load average before: ${load()}`);

// ---- SQLite
{
  const dataDir = mkdtempSync(join(tmpdir(), 'atrium-bench-audit-'));
  const config = loadConfig({ env: {}, file: join(PROJECT_ROOT, 'config/default.json'), overrides: { dataDir, database: { url: '', sqliteFile: 'atrium.db' }, plugins: { enabled: [], settings: {} }, log: { level: 'warn' } } });
  const s = createServices(config, logger, systemClock);
  try {
    await migrateAll(s.db, [CORE_MIGRATIONS], logger);
    const t = performance.now();
    await fillSqlite(s);
    console.log(`sqlite: generated ${N.toLocaleString('en')} chained rows in ${fmt(performance.now() - t)} (${(statSync(join(dataDir, 'atrium.db')).size / 1e6).toFixed(0)} MB)`);
    const times = await timeVerify(s);
    console.log(`sqlite: verify() over ${N.toLocaleString('en')} rows: ${times.map(fmt).join(', ')} (median ${fmt(median(times))}, best ${fmt(Math.min(...times))})`);
    await s.db.destroy();
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ATRIUM_') && k !== 'DATABASE_URL'));
    const cmds: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const cmd = await timeCommand({ ...env, ATRIUM_DATA_DIR: dataDir, ATRIUM_PLUGINS: '' });
      cmds.push(cmd.ms);
      if (i === 0) console.log(`sqlite: the command says: ${cmd.out}`);
    }
    console.log(`sqlite: \`atrium audit:verify\` as a process (start-up included): ${cmds.map(fmt).join(', ')} (median ${fmt(median(cmds))}, best ${fmt(Math.min(...cmds))})`);
    Object.assign(results, { sqliteVerifyMs: Math.round(median(times)), sqliteCommandMs: Math.round(median(cmds)) });
  } finally {
    await s.db.destroy().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---- PostgreSQL, in a schema of its own that is dropped afterwards
if (process.env.DATABASE_URL) {
  const schema = `bench_audit_${randomBytes(4).toString('hex')}`;
  const config = loadConfig({ env: {}, file: join(PROJECT_ROOT, 'config/default.json'), overrides: { database: { url: process.env.DATABASE_URL, poolMax: 2 }, plugins: { enabled: [], settings: {} } } });
  const admin = createServices(config, logger, systemClock);
  await admin.db.raw(`create schema ${schema}`);
  await admin.db.destroy();
  const s = createServices({ ...config, database: { ...config.database, schema } }, logger, systemClock);
  try {
    await migrateAll(s.db, [CORE_MIGRATIONS], logger);
    const t = performance.now();
    await fillPostgres(s);
    await s.db.raw('analyze audit_events');
    console.log(`postgres: generated ${N.toLocaleString('en')} chained rows in ${fmt(performance.now() - t)}`);
    const times = await timeVerify(s);
    console.log(`postgres: verify() over ${N.toLocaleString('en')} rows: ${times.map(fmt).join(', ')} (median ${fmt(median(times))}, best ${fmt(Math.min(...times))})`);
    results.postgresVerifyMs = Math.round(median(times));
  } finally {
    await s.db.raw(`drop schema if exists ${schema} cascade`).catch(() => {});
    await s.db.destroy();
  }
}

console.log(`load average after: ${load()}`);
console.log(JSON.stringify({ ...results, at: new Date().toISOString() }));
