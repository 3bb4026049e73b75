// `atrium doctor`: the default development configuration lists its warnings (and fails with
// --strict); a hardened production configuration exits 0 even with --strict.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freshDatabase, testConfig, type TestDb } from '../helpers/app.ts';
import { checkConfig, checkDatabase } from '../../core/cli/doctor.ts';
import { createDb } from '../../core/db/index.ts';
import { loadConfig } from '../../core/config/load.ts';

const run = promisify(execFile);
const test = suite('doctor');
let db: TestDb;

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ATRIUM_') && k !== 'DATABASE_URL' && k !== 'PORT'));
  const dbo = db.overrides.database as { url: string; schema?: string };
  return {
    ...clean,
    ATRIUM_DATA_DIR: db.dataDir,
    ATRIUM_LOG_LEVEL: 'warn',
    // The kernel alone: doctor's findings do not depend on plugins.
    ATRIUM_PLUGINS: '',
    ...(dbo.url ? { DATABASE_URL: dbo.url } : {}),
    ...(dbo.schema ? { ATRIUM_DB_SCHEMA: dbo.schema } : {}),
    ...extra,
  };
}

async function atrium(args: string[], extra: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, ['bin/atrium.js', ...args], { env: env(extra), timeout: 60_000 });
    return { code: 0, out: stdout };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout + x.stderr };
  }
}

const HARDENED = {
  ATRIUM_ENV: 'production',
  ATRIUM_HOST: '0.0.0.0',
  ATRIUM_BASE_URL: 'https://portal.harbor.example',
  ATRIUM_TRUST_PROXY: '10.0.0.0/8',
  ATRIUM_MFA_KEY: randomBytes(32).toString('base64'),
  ATRIUM_MAIL_TRANSPORT: 'smtp',
  ATRIUM_MAIL_FROM: 'portal@harbor.example',
  ATRIUM_SMTP_HOST: 'smtp.harbor.example',
  ATRIUM_SMTP_PORT: '587',
  ATRIUM_SMTP_REQUIRE_TLS: 'true',
};

test.before(async () => {
  db = await freshDatabase();
});
test.after(async () => {
  await db.drop();
});

test('the default development configuration: coded warnings, exit 0, and exit 1 with --strict', async () => {
  const codes = checkConfig(loadConfig({ env: {}, overrides: { dataDir: db.dataDir } })).map((f) => f.code);
  for (const c of ['DOC001_ENV_NOT_PRODUCTION', 'DOC002_BASE_URL_NOT_HTTPS', 'DOC005_MFA_KEY_IN_DATA_DIR']) assert.ok(codes.includes(c), c);
  assert.is((await atrium(['migrate'])).code, 0);
  const plain = await atrium(['doctor']);
  assert.is(plain.code, 0);
  assert.match(plain.out, 'DOC001_ENV_NOT_PRODUCTION');
  assert.match(plain.out, 'DOC020_MFA_NOT_REQUIRED_FOR_STAFF');
  assert.match(plain.out, /fix: /);
  assert.is((await atrium(['doctor', '--strict'])).code, 1);
});

test('doctor says when the mail links address is a guess, or names a port Atrium does not listen on', () => {
  const guessed = checkConfig(loadConfig({ env: {}, overrides: { dataDir: db.dataDir, baseUrl: '', port: 8080 } }), {});
  const f = guessed.find((x) => x.code === 'DOC019_BASE_URL_NOT_SET');
  assert.ok(f);
  assert.match(f!.message, 'http://localhost:8080');
  const stale = checkConfig(loadConfig({ env: {}, overrides: { dataDir: db.dataDir, baseUrl: 'http://localhost:3000', port: 8080 } }), {}).map((x) => x.code);
  assert.ok(stale.includes('DOC022_BASE_URL_WRONG_PORT'));
  const set = checkConfig(loadConfig({ env: {}, overrides: { dataDir: db.dataDir, baseUrl: 'https://portal.harbor.example', port: 8080 } }), {}).map((x) => x.code);
  assert.not.ok(set.includes('DOC019_BASE_URL_NOT_SET'));
  assert.not.ok(set.includes('DOC022_BASE_URL_WRONG_PORT'));
});

test('weak production settings each get their finding', () => {
  const config = loadConfig({
    env: {},
    overrides: {
      env: 'production',
      host: '0.0.0.0',
      baseUrl: 'https://portal.harbor.example',
      dataDir: db.dataDir,
      database: { url: 'postgres://atrium:change-me@db.internal:5432/atrium' },
      mail: { transport: 'file' },
      trustProxy: ['0.0.0.0/0'],
      log: { level: 'debug' },
      session: { idleMinutes: 120, absoluteHours: 12 },
    },
  });
  const codes = checkConfig(config, { WEB_CONCURRENCY: '4' }).map((f) => f.code);
  for (const c of ['DOC003_DEFAULT_DB_PASSWORD', 'DOC013_MAIL_FILE_TRANSPORT', 'DOC012_TRUST_PROXY_ANY', 'DOC018_DEBUG_LOGS', 'DOC017_LONG_SESSIONS', 'DOC005_MFA_KEY_IN_DATA_DIR']) {
    assert.ok(codes.includes(c), c);
  }
  const sqlite = loadConfig({ env: {}, overrides: { env: 'production', dataDir: db.dataDir, database: { url: '' } } });
  assert.ok(checkConfig(sqlite, { WEB_CONCURRENCY: '4' }).some((f) => f.code === 'DOC009_SQLITE_MULTI_PROCESS'));
  assert.not.ok(checkConfig(sqlite, {}).some((f) => f.code === 'DOC009_SQLITE_MULTI_PROCESS'));
  const proxyless = loadConfig({ env: {}, overrides: { host: '0.0.0.0', baseUrl: 'https://portal.harbor.example', dataDir: db.dataDir, trustProxy: [] } });
  assert.ok(checkConfig(proxyless, {}).some((f) => f.code === 'DOC010_TRUST_PROXY_EMPTY'));
  chmodSync(db.dataDir, 0o755);
  writeFileSync(join(db.dataDir, 'mfa.key'), 'x', { mode: 0o644 });
  chmodSync(join(db.dataDir, 'mfa.key'), 0o644);
  const loose = checkConfig(loadConfig({ env: {}, overrides: { dataDir: db.dataDir } }), {}).map((f) => f.code);
  assert.ok(loose.includes('DOC007_DATA_DIR_WORLD_READABLE'));
  assert.ok(loose.includes('DOC006_MFA_KEY_READABLE'));
});

test('reply by email: an open listener, the sender\'s own domain, a placeholder domain and long-lived addresses are findings; off, none', () => {
  const off = checkConfig(loadConfig({ env: {}, overrides: { dataDir: db.dataDir } }), {}).map((f) => f.code);
  assert.not.ok(off.some((c) => c.startsWith('DOC025') || c.startsWith('DOC026') || c.startsWith('DOC027') || c.startsWith('DOC028')));
  const risky = loadConfig({
    env: { ATRIUM_INBOUND_ENABLED: 'true', ATRIUM_INBOUND_HOST: '0.0.0.0', ATRIUM_INBOUND_DOMAIN: 'harbor.example', ATRIUM_INBOUND_TOKEN_TTL_DAYS: '365' },
    overrides: { env: 'production', dataDir: db.dataDir, mail: { from: 'portal@harbor.example' } },
  });
  const codes = checkConfig(risky, {}).map((f) => f.code);
  for (const c of ['DOC025_INBOUND_OPEN_LISTENER', 'DOC026_INBOUND_DOMAIN_IS_MAIL_DOMAIN', 'DOC027_INBOUND_DOMAIN_PLACEHOLDER', 'DOC028_INBOUND_LONG_LIFETIME']) assert.ok(codes.includes(c), c);
  const sound = loadConfig({ env: { ATRIUM_INBOUND_ENABLED: 'true', ATRIUM_INBOUND_DOMAIN: 'reply.harbor.co.uk' }, overrides: { env: 'production', dataDir: db.dataDir, mail: { from: 'portal@harbor.co.uk' } } });
  assert.not.ok(checkConfig(sound, {}).some((f) => /^DOC02[5-8]/.test(f.code)));
  // Enabled without a reply domain is not a finding but a configuration error that stops start-up.
  let err: (Error & { code?: string }) | undefined;
  try {
    loadConfig({ env: { ATRIUM_INBOUND_ENABLED: 'true' }, overrides: { dataDir: db.dataDir } });
  } catch (e) {
    err = e as Error & { code?: string };
  }
  assert.is(err?.code, 'ATR_CONFIG_INVALID');
  assert.match(err!.message, 'inbound.domain: is required when inbound.enabled is true');
});

test('a hardened configuration with MFA required for staff: doctor --strict exits 0', async () => {
  const config = testConfig(db);
  const knex = createDb(config);
  try {
    await knex('settings').insert({ key: 'core.security', value: JSON.stringify({ requireMfaStaff: true }), updated_at: Date.now() }).onConflict('key').merge();
    assert.equal(await checkDatabase(knex), []);
  } finally {
    await knex.destroy();
  }
  chmodSync(db.dataDir, 0o700);
  chmodSync(join(db.dataDir, 'mfa.key'), 0o600);
  if (!(db.overrides.database as { url: string }).url) chmodSync(join(db.dataDir, 'atrium.db'), 0o600);
  const res = await atrium(['doctor', '--strict'], HARDENED);
  assert.is(res.code, 0, res.out);
  assert.match(res.out, 'No problems found.');
});

test.run();
