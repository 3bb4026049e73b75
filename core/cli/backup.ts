// `atrium backup <dir>` and `atrium restore <dir>`: a consistent snapshot of one installation
// (the database, with the wrapped file keys it holds, plus the encrypted file blobs) and its
// verified restore. The master keys (<dataDir>/storage.keys, <dataDir>/mfa.key) are not copied
// unless --include-keys: a backup that carries its own keys protects nothing if it leaks.
//
// Layout of a backup folder:
//   manifest.json        format, kernel version, database kind, time, migration state, parts
//   db.sqlite | db.pgdump (VACUUM INTO copy, or pg_dump -Fc)
//   blobs/<xx>/<key>     the local blob store's files, byte for byte (still encrypted)
//   keys/…               only with --include-keys
// It is written to a hidden sibling folder and renamed into place when complete.
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { fsyncPath } from '../fsync.ts';
import knexFactory from 'knex';
import { loadConfig } from '../config/load.ts';
import type { AtriumConfig } from '../config/schema.ts';
import { sqlitePath } from '../db/index.ts';
import { migrationStatus } from '../db/migrations.ts';
import { keyRingFile } from '../storage/keys.ts';
import { mfaKeyFile } from '../identity/mfa.ts';
import { KERNEL_VERSION } from '../version.ts';
import { AtriumError } from '../errors.ts';
import type { Command } from './commands.ts';

const exec = promisify(execFile);
export const BACKUP_FORMAT = 'atrium-backup/1';

interface Part {
  path: string;
  size: number;
  sha256: string;
}
export interface Manifest {
  format: string;
  kernelVersion: string;
  createdAt: string;
  database: { kind: 'sqlite' | 'postgres'; schema: string | null; file: string };
  migrations: Array<{ id: string; applied: string[]; pending: string[] }>;
  keysIncluded: boolean;
  parts: Part[];
}

/** A failure of the command itself (exit 1), as opposed to bad usage (exit 2). */
class BackupFailure extends Error {}
const fail = (msg: string): never => {
  throw new BackupFailure(msg);
};
const usage = (msg: string) => new AtriumError('ATR_CLI_USAGE', msg);

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}


async function listFiles(root: string, rel = ''): Promise<string[]> {
  if (!existsSync(join(root, rel))) return [];
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(root, r)));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

function blobRoot(config: AtriumConfig): string {
  if (config.storage.driver === 's3') fail('file storage on S3 (storage.driver = "s3") is not supported by backup/restore yet; back the bucket up with your provider’s tools (versioning or replication) and use a local store to use this command');
  return config.storage.dir ? resolve(config.storage.dir) : join(config.dataDir, 'blobs');
}

function openDb(config: AtriumConfig) {
  if (config.database.url) {
    return knexFactory({ client: 'pg', connection: config.database.url, searchPath: config.database.schema ? [config.database.schema] : undefined, pool: { min: 0, max: 1 } });
  }
  return knexFactory({ client: 'sqlite3', connection: { filename: sqlitePath(config) }, useNullAsDefault: true, pool: { min: 1, max: 1 } });
}

/** pg_dump / pg_restore must exist and share the server's major version. */
async function pgTool(tool: 'pg_dump' | 'pg_restore', db: ReturnType<typeof openDb>): Promise<void> {
  let out: string;
  try {
    out = (await exec(tool, ['--version'])).stdout;
  } catch {
    return fail(`${tool} was not found on PATH; install the PostgreSQL client tools of the server's major version (e.g. apt install postgresql-client)`);
  }
  const toolMajor = Number(/(\d+)(?:\.\d+)?/.exec(out)?.[1]);
  const r = await db.raw('show server_version_num');
  const serverMajor = Math.floor(Number(r.rows[0].server_version_num) / 10000);
  if (toolMajor !== serverMajor) fail(`${tool} is version ${toolMajor} but the PostgreSQL server is version ${serverMajor}; install the client tools of major version ${serverMajor}`);
}

/** The URL without its password (kept out of the process list) and the env carrying it. */
function pgConn(url: string): { url: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), env: password ? { ...process.env, PGPASSWORD: password } : process.env };
}

function masterKeyFiles(config: AtriumConfig): Array<{ what: string; file: string | null; name: string }> {
  return [
    { what: 'storage master key ring', file: config.storage.keys ? null : keyRingFile(config), name: 'storage.keys' },
    { what: 'MFA key', file: config.security.mfaKey ? null : mfaKeyFile(config), name: 'mfa.key' },
  ];
}

async function backup(target: string, includeKeys: boolean): Promise<number> {
  const config = loadConfig();
  const root = blobRoot(config);
  const dest = resolve(process.cwd(), target);
  if (existsSync(dest)) throw usage(`${target} already exists; give a new folder name (a backup never overwrites one)`);
  const parent = dirname(dest);
  if (!existsSync(parent)) throw usage(`the parent folder ${parent} does not exist`);
  const tmp = join(parent, `.${basename(dest)}.partial-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp, { mode: 0o700 });
  const db = openDb(config);
  try {
    const pg = config.database.url !== '';
    const dbFile = pg ? 'db.pgdump' : 'db.sqlite';
    const migrations = await readMigrations(db);
    if (pg) {
      await pgTool('pg_dump', db);
      const args = ['-Fc', '--no-owner', '--no-acl', '-f', join(tmp, dbFile)];
      if (config.database.schema) args.push('--schema', config.database.schema);
      const conn = pgConn(config.database.url);
      args.push('--dbname', conn.url);
      try {
        await exec('pg_dump', args, { maxBuffer: 16 * 1024 * 1024, env: conn.env });
      } catch (err) {
        fail(`pg_dump failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
      }
    } else {
      if (!existsSync(sqlitePath(config))) fail(`there is no database at ${sqlitePath(config)}`);
      // VACUUM INTO reads one transaction's snapshot: consistent while the server writes.
      await db.raw(`VACUUM INTO '${join(tmp, dbFile).replace(/'/g, "''")}'`);
    }
    // Blobs after the database: every blob a snapshot row names was written before its row
    // committed, so it is on disk now. Blobs written later are orphans in the copy (swept).
    const blobs = (await listFiles(root)).filter((f) => !f.startsWith('tmp/'));
    for (const f of blobs) {
      await mkdir(dirname(join(tmp, 'blobs', f)), { recursive: true, mode: 0o700 });
      try {
        await copyFile(join(root, f), join(tmp, 'blobs', f));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // deleted meanwhile
      }
    }
    const keys = masterKeyFiles(config);
    if (includeKeys) {
      for (const k of keys) {
        if (!k.file || !existsSync(k.file)) continue;
        await mkdir(join(tmp, 'keys'), { recursive: true, mode: 0o700 });
        await copyFile(k.file, join(tmp, 'keys', k.name));
      }
    }
    const parts: Part[] = [];
    for (const f of (await listFiles(tmp)).sort()) {
      const p = join(tmp, f);
      parts.push({ path: f, size: (await stat(p)).size, sha256: await sha256File(p) });
    }
    const manifest: Manifest = {
      format: BACKUP_FORMAT,
      kernelVersion: KERNEL_VERSION,
      createdAt: new Date().toISOString(),
      database: { kind: pg ? 'postgres' : 'sqlite', schema: pg ? config.database.schema || null : null, file: dbFile },
      migrations,
      keysIncluded: includeKeys,
      parts,
    };
    await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
    for (const f of await listFiles(tmp)) await fsyncPath(join(tmp, f));
    await rename(tmp, dest);
    await fsyncPath(parent);
    const total = parts.reduce((n, p) => n + p.size, 0);
    console.log(`Backup written to ${dest}: ${manifest.database.kind} database, ${blobs.length} blob(s), ${parts.length} part(s), ${total} bytes.`);
    if (includeKeys) {
      console.log('WARNING: --include-keys copied the MASTER KEYS into this backup. Anyone holding this folder can decrypt every file');
      console.log('WARNING: and MFA secret. Store it like the keys themselves, never next to ordinary backups.');
    } else {
      console.log('The master keys are NOT in this backup. Store them apart from it (without them the files cannot be decrypted):');
    }
    for (const k of keys) console.log(`  ${k.what}: ${k.file ?? `from the configuration (${k.name === 'mfa.key' ? 'security.mfaKey / ATRIUM_MFA_KEY' : 'storage.keys / ATRIUM_STORAGE_KEYS'})`}`);
    return 0;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    await db.destroy();
  }
}

async function readMigrations(db: ReturnType<typeof openDb>): Promise<Manifest['migrations']> {
  try {
    const { CORE_MIGRATIONS } = await import('../db/migrations.ts');
    const { loadPlugins } = await import('../plugins/loader.ts');
    const plugins = await loadPlugins(loadConfig());
    const sets = [CORE_MIGRATIONS, ...plugins.map((p) => ({ id: p.id, dir: p.migrationsDir }))];
    const status = await migrationStatus(db, sets);
    return status.map((s) => ({ id: s.id, applied: [...s.completed], pending: [...s.pending] }));
  } catch (err) {
    return fail(`could not read the migration state: ${(err as Error).message}`);
  }
}

/** Read and check a backup folder: every part present with its size and SHA-256. */
export async function verifyBackup(dir: string): Promise<Manifest> {
  const mf = join(dir, 'manifest.json');
  if (!existsSync(mf)) fail(`${dir} is not a backup: manifest.json is missing`);
  let m: Manifest;
  try {
    m = JSON.parse(await readFile(mf, 'utf8')) as Manifest;
  } catch {
    return fail('manifest.json is not valid JSON');
  }
  if (m?.format !== BACKUP_FORMAT) fail(`manifest.json: unknown format ${JSON.stringify(m?.format)} (this version reads ${BACKUP_FORMAT})`);
  if (!Array.isArray(m.parts) || !m.database || !['sqlite', 'postgres'].includes(m.database.kind)) fail('manifest.json: the parts or database entries are missing or invalid');
  const root = resolve(dir);
  const listed = new Set<string>();
  for (const p of m.parts) {
    const file = resolve(root, String(p.path));
    if (!file.startsWith(root + sep) || p.path === 'manifest.json') fail(`manifest.json: part ${JSON.stringify(p.path)} is outside the backup`);
    listed.add(p.path);
    if (!existsSync(file)) fail(`part ${p.path} is missing`);
    const size = (await stat(file)).size;
    if (size !== p.size) fail(`part ${p.path} has ${size} bytes; the manifest says ${p.size}`);
    if ((await sha256File(file)) !== p.sha256) fail(`part ${p.path} does not match its SHA-256 in the manifest`);
  }
  if (!listed.has(m.database.file)) fail(`manifest.json does not list the database part ${m.database.file}`);
  for (const f of await listFiles(root)) if (f !== 'manifest.json' && !listed.has(f)) fail(`part ${f} is in the folder but not in the manifest`);
  return m;
}

async function userCount(config: AtriumConfig): Promise<number> {
  if (!config.database.url && !existsSync(sqlitePath(config))) return 0;
  const db = openDb(config);
  try {
    if (!(await db.schema.hasTable('users'))) return 0;
    const r = await db('users').count({ n: '*' }).first();
    return Number(r?.n ?? 0);
  } finally {
    await db.destroy();
  }
}

async function restore(source: string, force: boolean): Promise<number> {
  const config = loadConfig();
  const root = blobRoot(config);
  const dir = resolve(process.cwd(), source);
  if (!existsSync(dir)) throw usage(`${source} does not exist`);
  const m = await verifyBackup(dir);
  console.log(`Backup verified: ${m.parts.length} part(s), taken ${m.createdAt} by kernel ${m.kernelVersion}.`);
  const pg = config.database.url !== '';
  if ((m.database.kind === 'postgres') !== pg) fail(`the backup holds a ${m.database.kind} database but this installation is configured for ${pg ? 'postgres' : 'sqlite'}`);
  if (pg && (m.database.schema ?? '') !== (config.database.schema ?? '')) fail(`the backup holds PostgreSQL schema ${m.database.schema ?? '(default)'} but ATRIUM_DB_SCHEMA is ${config.database.schema || '(default)'}; restore into the same schema name`);
  const users = await userCount(config);
  if (users > 0 && !force) fail(`this installation is not empty (${users} user(s) exist); restore into an empty installation, or pass --force to replace its database`);

  const dbPart = join(dir, m.database.file);
  if (pg) {
    const db = openDb(config);
    try {
      await pgTool('pg_restore', db);
      const schema = config.database.schema || '';
      // The schema's current contents (no users, or --force) are moved aside, and dropped only
      // once pg_restore has succeeded; on failure they are put back.
      const aside = schema ? `${schema}_pre_restore_${randomBytes(3).toString('hex')}` : '';
      const existed = schema ? Number((await db.raw('select count(*) as n from pg_namespace where nspname = ?', [schema])).rows[0].n) > 0 : false;
      if (existed) await db.raw('alter schema ?? rename to ??', [schema, aside]);
      const conn = pgConn(config.database.url);
      const args = ['--no-owner', '--no-acl', '--exit-on-error', '--single-transaction', '--dbname', conn.url];
      if (!schema) args.push('--clean', '--if-exists');
      try {
        await exec('pg_restore', [...args, dbPart], { maxBuffer: 16 * 1024 * 1024, env: conn.env });
      } catch (err) {
        if (existed) {
          await db.raw('drop schema if exists ?? cascade', [schema]);
          await db.raw('alter schema ?? rename to ??', [aside, schema]);
        }
        fail(`pg_restore failed (the installation was left as it was): ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
      }
      if (existed) await db.raw('drop schema ?? cascade', [aside]);
    } finally {
      await db.destroy();
    }
  } else {
    const target = sqlitePath(config);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    const tmp = `${target}.restore-${randomBytes(4).toString('hex')}`;
    await copyFile(dbPart, tmp);
    await fsyncPath(tmp);
    for (const ext of ['-wal', '-shm', '-journal']) await rm(target + ext, { force: true });
    await rename(tmp, target);
    await fsyncPath(dirname(target));
  }
  let restored = 0;
  for (const p of m.parts.filter((x) => x.path.startsWith('blobs/'))) {
    const to = join(root, p.path.slice('blobs/'.length));
    await mkdir(dirname(to), { recursive: true, mode: 0o700 });
    const tmp = `${to}.restore-${randomBytes(4).toString('hex')}`;
    await copyFile(join(dir, p.path), tmp);
    await fsyncPath(tmp);
    await rename(tmp, to);
    restored++;
  }
  console.log(`Restored the ${m.database.kind} database and ${restored} blob(s).`);
  for (const k of masterKeyFiles(config)) {
    if (!k.file) continue;
    const inBackup = join(dir, 'keys', k.name);
    if (existsSync(inBackup) && !existsSync(k.file)) {
      await mkdir(dirname(k.file), { recursive: true, mode: 0o700 });
      await copyFile(inBackup, k.file);
      console.log(`Restored the ${k.what} from the backup to ${k.file}.`);
    } else if (!existsSync(k.file)) {
      console.log(`WARNING: the ${k.what} is missing at ${k.file}: put your copy there before starting Atrium, or files/MFA cannot be decrypted.`);
    }
  }
  // Check the audit chain of what was restored (read-only, like `atrium audit:verify`).
  const { createServices } = await import('../services.ts');
  const { createLogger } = await import('../logger.ts');
  const { systemClock } = await import('../clock.ts');
  const pino = (await import('pino')).default;
  const s = createServices(config, createLogger({ ...config, log: { level: 'warn' } }, pino.destination(2)), systemClock);
  try {
    const result = await s.audit.verify(s.db);
    if (!result.ok) {
      console.log(`Audit chain broken at seq ${result.seq}: ${result.reason}.`);
      return 1;
    }
    console.log(`Audit log: ${result.count} events, chain intact.`);
  } finally {
    await s.db.destroy();
  }
  // The signed checkpoints on this machine describe the log as it was before the restore: later
  // events are gone with the restore, so the old file can never be extended. Keep it (it still
  // proves what the restored rows were) and let the next checkpoint start a new file.
  const { checkpointFile } = await import('../audit-checkpoints.ts');
  const checkpoints = checkpointFile(config);
  if (existsSync(checkpoints)) {
    const kept = `${checkpoints}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await rename(checkpoints, kept);
    console.log(`Audit checkpoints: the previous file was moved to ${kept}; new checkpoints start from the restored log. Check the restored rows against it with \`atrium audit:verify --checkpoints ${kept}\` (checkpoints after the backup's last event are reported as missing rows).`);
  }
  console.log('Restore complete. Start Atrium (it runs any pending migrations), then run `atrium files:scrub` to read every file.');
  return 0;
}

function guarded(name: string, fn: (values: Record<string, string | boolean | undefined>, positionals: string[]) => Promise<number>): Command['run'] {
  return async (values, positionals) => {
    try {
      return await fn(values, positionals);
    } catch (err) {
      if (err instanceof BackupFailure) {
        console.error(`atrium ${name}: ${err.message}`);
        return 1;
      }
      throw err;
    }
  };
}

export const backupCommands: Command[] = [
  {
    name: 'backup',
    summary: 'Write a consistent snapshot (database, file blobs, manifest) to a new folder, while the server runs',
    usage: '<dir>',
    positionals: 1,
    details:
      'SQLite is copied with VACUUM INTO, PostgreSQL with pg_dump -Fc (the client tools must match the server’s major version).\n' +
      'The wrapped file keys are in the database. The MASTER keys (storage.keys, mfa.key) are not copied: store them apart.\n' +
      'manifest.json lists every part with its size and SHA-256. The folder appears only once complete.',
    options: { 'include-keys': { type: 'boolean', description: 'Also copy the master key files (anyone with the backup can then decrypt it)' } },
    run: guarded('backup', async (values, positionals) => {
      const dir = positionals[0];
      if (!dir) throw usage('give the folder to create, e.g. `atrium backup /backups/atrium-2026-11-28`');
      return backup(dir, values['include-keys'] === true);
    }),
  },
  {
    name: 'restore',
    summary: 'Verify a backup folder and restore it into an empty installation, then check the audit chain',
    usage: '<dir>',
    positionals: 1,
    details:
      'Refuses a backup whose manifest does not verify (a part missing, or of the wrong size or SHA-256) and an installation\n' +
      'where any user exists (unless --force). Stop every Atrium process first. Put the master keys back in the data folder.',
    options: { force: { type: 'boolean', description: 'Replace the database of an installation that already has users' } },
    run: guarded('restore', async (values, positionals) => {
      const dir = positionals[0];
      if (!dir) throw usage('give the backup folder, e.g. `atrium restore /backups/atrium-2026-11-28`');
      return restore(dir, values.force === true);
    }),
  },
];
