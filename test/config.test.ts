// Config: defaults, layering, and errors that name the bad key.
import 'reflect-metadata';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseUrlIsDerived, loadConfig, settleBaseUrl } from '../core/config/load.ts';
import { AtriumError } from '../core/errors.ts';

const test = suite('config');

function errorOf(fn: () => unknown): AtriumError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AtriumError) return err;
    throw err;
  }
  throw new Error('expected an AtriumError');
}

function tmpFile(content: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'atrium-cfg-')), 'local.json');
  writeFileSync(f, content);
  return f;
}

test('defaults: SQLite in data/, port 3000, migrate on start, 30 min / 12 h sessions', () => {
  const c = loadConfig({ env: {}, file: tmpFile('{}') });
  assert.is(c.database.url, '');
  assert.is(c.port, 3000);
  assert.ok(c.dataDir.endsWith('/data'));
  assert.is(c.database.migrateOnStart, true);
  assert.is(c.session.idleMinutes, 30);
  assert.is(c.session.absoluteHours, 12);
  assert.is(c.auth.argon2MemoryKiB, 65536);
});

test('environment overrides the file, which overrides the defaults', () => {
  const file = tmpFile(JSON.stringify({ port: 4000, theme: 'ledger', log: { level: 'debug' } }));
  const c = loadConfig({ env: { PORT: '5000', DATABASE_URL: 'postgres://u@h/db', ATRIUM_PLUGINS: 'team, files', ATRIUM_MIGRATE_ON_START: 'false' }, file });
  assert.is(c.port, 5000);
  assert.is(c.theme, 'ledger');
  assert.is(c.log.level, 'debug');
  assert.is(c.database.url, 'postgres://u@h/db');
  assert.equal(c.plugins.enabled, ['team', 'files']);
  assert.is(c.database.migrateOnStart, false);
});

test('an unknown key in the file stops start-up naming the key', () => {
  const err = errorOf(() => loadConfig({ env: {}, file: tmpFile(JSON.stringify({ database: { sqliteFiel: 'x.db' } })) }));
  assert.is(err.code, 'ATR_CONFIG_INVALID');
  assert.match(err.message, 'database.sqliteFiel: unknown key');
});

test('a bad value names its key', () => {
  const err = errorOf(() => loadConfig({ env: {}, file: tmpFile(JSON.stringify({ session: { idleMinutes: -5 } })) }));
  assert.is(err.code, 'ATR_CONFIG_INVALID');
  assert.match(err.message, 'session.idleMinutes');
});

test('a non-numeric PORT names the variable', () => {
  const err = errorOf(() => loadConfig({ env: { PORT: 'eighty' }, file: tmpFile('{}') }));
  assert.is(err.code, 'ATR_CONFIG_INVALID');
  assert.match(err.message, 'PORT');
});

test('an unknown ATRIUM_* variable names itself', () => {
  const err = errorOf(() => loadConfig({ env: { ATRIUM_PLUGIN: 'team' }, file: tmpFile('{}') }));
  assert.is(err.code, 'ATR_CONFIG_UNKNOWN_ENV');
  assert.match(err.message, 'ATRIUM_PLUGIN');
});

test('DATABASE_URL must be PostgreSQL or empty', () => {
  const err = errorOf(() => loadConfig({ env: { DATABASE_URL: 'mysql://root@localhost/db' }, file: tmpFile('{}') }));
  assert.match(err.message, 'database.url');
});

test('argon2 parameters below the SECURITY.md floor are refused', () => {
  const err = errorOf(() => loadConfig({ env: { ATRIUM_ARGON2_MEMORY_KIB: '1024' }, file: tmpFile('{}') }));
  assert.match(err.message, 'auth.argon2MemoryKiB');
});

test('a named config file that does not exist is an error, not silently skipped', () => {
  const err = errorOf(() => loadConfig({ env: { ATRIUM_CONFIG: '/nonexistent/atrium.json' } }));
  assert.is(err.code, 'ATR_CONFIG_FILE');
});

test('malformed JSON in the file names the file', () => {
  const f = tmpFile('{ "port": ');
  const err = errorOf(() => loadConfig({ env: {}, file: f }));
  assert.is(err.code, 'ATR_CONFIG_FILE');
  assert.match(err.message, f);
});

test('without ATRIUM_BASE_URL, links follow PORT (and the host): only PORT changed means mail links on that port', () => {
  assert.is(loadConfig({ env: {}, file: tmpFile('{}') }).baseUrl, 'http://localhost:3000');
  assert.is(loadConfig({ env: { PORT: '8080' }, file: tmpFile('{}') }).baseUrl, 'http://localhost:8080');
  assert.is(loadConfig({ env: { PORT: '8080', ATRIUM_HOST: '0.0.0.0' }, file: tmpFile('{}') }).baseUrl, 'http://localhost:8080');
  assert.is(loadConfig({ env: { PORT: '8080', ATRIUM_HOST: '192.168.1.20' }, file: tmpFile('{}') }).baseUrl, 'http://192.168.1.20:8080');
  const set = loadConfig({ env: { PORT: '8080', ATRIUM_BASE_URL: 'https://portal.harbor.example/' }, file: tmpFile('{}') });
  assert.is(set.baseUrl, 'https://portal.harbor.example', 'a set address wins, trailing slash removed');
  assert.is(baseUrlIsDerived(set), false);
  assert.is(baseUrlIsDerived(loadConfig({ env: {}, file: tmpFile('{}') })), true);
});

test('start-up warns when the address is a guess in production, or names another local port', () => {
  const dev = loadConfig({ env: { PORT: '0' }, file: tmpFile('{}') });
  assert.is(settleBaseUrl(dev, 41234), null, 'development on this machine: the guess is right');
  assert.is(dev.baseUrl, 'http://localhost:41234', 'PORT=0: the bound port');
  const prod = loadConfig({ env: { PORT: '8080', ATRIUM_ENV: 'production' }, file: tmpFile('{}') });
  assert.match(settleBaseUrl(prod, 8080) ?? '', 'ATRIUM_BASE_URL is not set');
  const stale = loadConfig({ env: { PORT: '8080', ATRIUM_BASE_URL: 'http://localhost:3000' }, file: tmpFile('{}') });
  assert.match(settleBaseUrl(stale, 8080) ?? '', 'names port 3000, but Atrium listens on 8080');
  assert.is(settleBaseUrl(loadConfig({ env: { PORT: '8080', ATRIUM_BASE_URL: 'https://portal.harbor.example' }, file: tmpFile('{}') }), 8080), null, 'a public address behind a proxy');
});

test.run();
