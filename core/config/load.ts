// Loads configuration: config/default.json, then a local file, then the environment, then
// explicit overrides (tests, CLI). Validates the result into one typed object or stops with
// an error that names the offending key.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AtriumError } from '../errors.ts';
import { configSchema, type AtriumConfig } from './schema.ts';

export const PROJECT_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

type Json = Record<string, unknown>;

/** Each environment variable and the config path it sets. Documented in .env.example. */
export const ENV_KEYS: Record<string, { path: string[]; type: 'string' | 'number' | 'boolean' | 'list' }> = {
  PORT: { path: ['port'], type: 'number' },
  DATABASE_URL: { path: ['database', 'url'], type: 'string' },
  ATRIUM_ENV: { path: ['env'], type: 'string' },
  ATRIUM_HOST: { path: ['host'], type: 'string' },
  ATRIUM_BASE_URL: { path: ['baseUrl'], type: 'string' },
  ATRIUM_DATA_DIR: { path: ['dataDir'], type: 'string' },
  ATRIUM_SQLITE_FILE: { path: ['database', 'sqliteFile'], type: 'string' },
  ATRIUM_MIGRATE_ON_START: { path: ['database', 'migrateOnStart'], type: 'boolean' },
  ATRIUM_DB_POOL_MAX: { path: ['database', 'poolMax'], type: 'number' },
  ATRIUM_DB_SCHEMA: { path: ['database', 'schema'], type: 'string' },
  ATRIUM_SQLITE_READERS: { path: ['database', 'sqliteReaders'], type: 'number' },
  ATRIUM_DB_CACHE: { path: ['database', 'cache'], type: 'boolean' },
  ATRIUM_PLUGINS: { path: ['plugins', 'enabled'], type: 'list' },
  ATRIUM_THEME: { path: ['theme'], type: 'string' },
  ATRIUM_LOG_LEVEL: { path: ['log', 'level'], type: 'string' },
  ATRIUM_SESSION_IDLE_MINUTES: { path: ['session', 'idleMinutes'], type: 'number' },
  ATRIUM_SESSION_ABSOLUTE_HOURS: { path: ['session', 'absoluteHours'], type: 'number' },
  ATRIUM_ARGON2_MEMORY_KIB: { path: ['auth', 'argon2MemoryKiB'], type: 'number' },
  ATRIUM_ARGON2_ITERATIONS: { path: ['auth', 'argon2Iterations'], type: 'number' },
  ATRIUM_TRUST_PROXY: { path: ['trustProxy'], type: 'list' },
  ATRIUM_MFA_KEY: { path: ['security', 'mfaKey'], type: 'string' },
  ATRIUM_MAIL_TRANSPORT: { path: ['mail', 'transport'], type: 'string' },
  ATRIUM_MAIL_FROM: { path: ['mail', 'from'], type: 'string' },
  ATRIUM_MAIL_POLL_SECONDS: { path: ['mail', 'pollSeconds'], type: 'number' },
  ATRIUM_MAIL_MAX_ATTEMPTS: { path: ['mail', 'maxAttempts'], type: 'number' },
  ATRIUM_SMTP_HOST: { path: ['mail', 'smtp', 'host'], type: 'string' },
  ATRIUM_SMTP_PORT: { path: ['mail', 'smtp', 'port'], type: 'number' },
  ATRIUM_SMTP_SECURE: { path: ['mail', 'smtp', 'secure'], type: 'boolean' },
  ATRIUM_SMTP_REQUIRE_TLS: { path: ['mail', 'smtp', 'requireTLS'], type: 'boolean' },
  ATRIUM_SMTP_IGNORE_TLS: { path: ['mail', 'smtp', 'ignoreTLS'], type: 'boolean' },
  ATRIUM_SMTP_USER: { path: ['mail', 'smtp', 'user'], type: 'string' },
  ATRIUM_SMTP_PASS: { path: ['mail', 'smtp', 'pass'], type: 'string' },
  ATRIUM_INBOUND_ENABLED: { path: ['inbound', 'enabled'], type: 'boolean' },
  ATRIUM_INBOUND_LISTEN: { path: ['inbound', 'listen'], type: 'boolean' },
  ATRIUM_INBOUND_HOST: { path: ['inbound', 'host'], type: 'string' },
  ATRIUM_INBOUND_PORT: { path: ['inbound', 'port'], type: 'number' },
  ATRIUM_INBOUND_DOMAIN: { path: ['inbound', 'domain'], type: 'string' },
  ATRIUM_INBOUND_MAX_BYTES: { path: ['inbound', 'maxBytes'], type: 'number' },
  ATRIUM_INBOUND_TOKEN_TTL_DAYS: { path: ['inbound', 'tokenTtlDays'], type: 'number' },
  ATRIUM_VIEWS_CACHE: { path: ['views', 'cache'], type: 'boolean' },
  ATRIUM_WIDGET_BUDGET_MS: { path: ['views', 'widgetBudgetMs'], type: 'number' },
  ATRIUM_STORAGE_DRIVER: { path: ['storage', 'driver'], type: 'string' },
  ATRIUM_STORAGE_DIR: { path: ['storage', 'dir'], type: 'string' },
  ATRIUM_STORAGE_KEYS: { path: ['storage', 'keys'], type: 'string' },
  ATRIUM_STORAGE_ORPHAN_GRACE_MINUTES: { path: ['storage', 'orphanGraceMinutes'], type: 'number' },
  ATRIUM_S3_ENDPOINT: { path: ['storage', 's3', 'endpoint'], type: 'string' },
  ATRIUM_S3_REGION: { path: ['storage', 's3', 'region'], type: 'string' },
  ATRIUM_S3_BUCKET: { path: ['storage', 's3', 'bucket'], type: 'string' },
  ATRIUM_S3_PREFIX: { path: ['storage', 's3', 'prefix'], type: 'string' },
  ATRIUM_S3_ACCESS_KEY_ID: { path: ['storage', 's3', 'accessKeyId'], type: 'string' },
  ATRIUM_S3_SECRET_ACCESS_KEY: { path: ['storage', 's3', 'secretAccessKey'], type: 'string' },
  ATRIUM_S3_FORCE_PATH_STYLE: { path: ['storage', 's3', 'forcePathStyle'], type: 'boolean' },
  ATRIUM_SHUTDOWN_TIMEOUT_MS: { path: ['shutdownTimeoutMs'], type: 'number' },
  ATRIUM_AUDIT_CHECKPOINTS: { path: ['audit', 'checkpointFile'], type: 'string' },
};

/** Variables that configure how config is found rather than a config value. */
const META_ENV = new Set(['ATRIUM_CONFIG']);

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** A JSON file layered over the defaults. Default: $ATRIUM_CONFIG or config/local.json if present. */
  file?: string;
  overrides?: Json;
  root?: string;
}

export function loadConfig(opts: LoadConfigOptions = {}): AtriumConfig {
  const root = opts.root ?? PROJECT_ROOT;
  const env = opts.env ?? process.env;
  let merged = readJson(resolve(root, 'config/default.json'));

  const localFile = opts.file ?? env.ATRIUM_CONFIG ?? resolve(root, 'config/local.json');
  const explicit = Boolean(opts.file ?? env.ATRIUM_CONFIG);
  const localPath = isAbsolute(localFile) ? localFile : resolve(process.cwd(), localFile);
  if (existsSync(localPath)) merged = deepMerge(merged, readJson(localPath));
  else if (explicit) throw new AtriumError('ATR_CONFIG_FILE', `${localPath} does not exist`);

  merged = deepMerge(merged, fromEnv(env));
  if (opts.overrides) merged = deepMerge(merged, opts.overrides);

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const keys = i.code === 'unrecognized_keys' ? i.keys.map((k) => [...i.path, k].join('.')) : [i.path.join('.') || '(root)'];
      return `${keys.join(', ')}: ${i.code === 'unrecognized_keys' ? 'unknown key' : i.message}`;
    });
    throw new AtriumError('ATR_CONFIG_INVALID', lines.join('; '), { details: { issues: lines } });
  }
  const config = parsed.data;
  config.dataDir = resolve(root, config.dataDir);
  if (!config.baseUrl) {
    config.baseUrl = defaultBaseUrl(config.host, config.port);
    derivedBaseUrls.add(config);
  }
  return config;
}

/**
 * Configs whose baseUrl was not set (ATRIUM_BASE_URL or `baseUrl`) and follows the server's host
 * and port instead: a firm that only changes PORT gets mail links to that port, and start-up
 * (core/boot.ts) and `atrium doctor` say that the address is a guess.
 */
const derivedBaseUrls = new WeakSet<AtriumConfig>();

export function baseUrlIsDerived(config: AtriumConfig): boolean {
  return derivedBaseUrls.has(config);
}

/** Host names that mean "this machine"; a link to one works only on the server itself. */
export const LOCAL_HOSTS = ['127.0.0.1', '::1', 'localhost', '0.0.0.0', '::', '[::1]'];

/** `http://localhost:<port>` for a loopback or any-interface host, else `http://<host>:<port>`. */
export function defaultBaseUrl(host: string, port: number): string {
  const name = LOCAL_HOSTS.includes(host) ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}${port === 80 ? '' : `:${port}`}`;
}

/**
 * After listening: a derived baseUrl takes the port actually bound (PORT=0 picks one). Returns a
 * warning for the start-up log, or null: the address is a guess that only works on this machine
 * (production, or listening on other interfaces), or a configured local address names another
 * port than the one the server listens on (the "only PORT changed" mistake).
 */
export function settleBaseUrl(config: AtriumConfig, boundPort: number): string | null {
  if (baseUrlIsDerived(config)) {
    config.baseUrl = defaultBaseUrl(config.host, boundPort);
    const local = ['127.0.0.1', '::1', 'localhost'].includes(config.host);
    if (config.env === 'production' || !local) {
      return `ATRIUM_BASE_URL is not set, so links in mail point at ${config.baseUrl}, which works only on this machine: set it to the address people use`;
    }
    return null;
  }
  const url = new URL(config.baseUrl);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (LOCAL_HOSTS.includes(url.hostname) && port !== boundPort) {
    return `baseUrl ${config.baseUrl} names port ${port}, but Atrium listens on ${boundPort}: links in mail will not open; fix ATRIUM_BASE_URL or unset it to follow PORT`;
  }
  return null;
}

function fromEnv(env: NodeJS.ProcessEnv): Json {
  const out: Json = {};
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    const spec = ENV_KEYS[name];
    if (!spec) {
      if (name.startsWith('ATRIUM_') && !META_ENV.has(name)) {
        throw new AtriumError('ATR_CONFIG_UNKNOWN_ENV', `${name} (known: ${Object.keys(ENV_KEYS).filter((k) => k.startsWith('ATRIUM_')).join(', ')})`);
      }
      continue;
    }
    setPath(out, spec.path, coerce(name, raw, spec.type));
  }
  return out;
}

function coerce(name: string, raw: string, type: 'string' | 'number' | 'boolean' | 'list'): unknown {
  switch (type) {
    case 'string':
      return raw;
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new AtriumError('ATR_CONFIG_INVALID', `${name}: expected a number, got "${raw}"`);
      return n;
    }
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new AtriumError('ATR_CONFIG_INVALID', `${name}: expected true or false, got "${raw}"`);
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
  }
}

function readJson(file: string): Json {
  try {
    return z.record(z.string(), z.unknown()).parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    throw new AtriumError('ATR_CONFIG_FILE', `${file}: ${(err as Error).message}`, { cause: err });
  }
}

function setPath(target: Json, path: string[], value: unknown): void {
  let cur = target;
  for (const key of path.slice(0, -1)) cur = (cur[key] ??= {}) as Json;
  cur[path.at(-1)!] = value;
}

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Json, v) : v;
  }
  return out;
}
