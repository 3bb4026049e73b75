// `atrium doctor [--strict]`: deployment checks in the manner of Django's `check --deploy`.
// Each finding has a stable code, a sentence and a fix. Without --strict the command only
// reports (exit 0); with --strict any finding exits 1, so a deploy pipeline can refuse a weak
// configuration. The database is read (never migrated, never written) for the MFA policy; if it
// cannot be read that is a finding too.
import { existsSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import pino from 'pino';
import type { AtriumConfig } from '../config/schema.ts';
import { baseUrlIsDerived, loadConfig, LOCAL_HOSTS } from '../config/load.ts';
import { createDb, isPostgres, sqlitePath, type Db } from '../db/index.ts';
import { mfaKeyFile, SECURITY_SETTING } from '../identity/mfa.ts';
import { getSetting } from '../settings.ts';
import type { Command } from './commands.ts';
import { loadPlugins } from '../plugins/loader.ts';

export interface Finding {
  code: string;
  message: string;
  fix: string;
}

/** Values shipped in examples or used as defaults: finding one in production is a finding. */
const DEFAULT_SECRETS = ['change-me', 'changeme', 'CHANGE-ME', 'password', 'secret', 'postgres:postgres@'];

function worldReadable(path: string): boolean {
  return existsSync(path) && (statSync(path).mode & 0o007) !== 0;
}
function groupOrWorldReadable(path: string): boolean {
  return existsSync(path) && (statSync(path).mode & 0o077) !== 0;
}

/** Checks that need only the configuration and the environment. */
export function checkConfig(config: AtriumConfig, env: NodeJS.ProcessEnv = process.env): Finding[] {
  const out: Finding[] = [];
  const prod = config.env === 'production';
  const add = (code: string, message: string, fix: string) => out.push({ code, message, fix });

  if (!prod) add('DOC001_ENV_NOT_PRODUCTION', `env is "${config.env}", not "production".`, 'Set ATRIUM_ENV=production on a server people use.');
  if (!config.baseUrl.startsWith('https://')) {
    add('DOC002_BASE_URL_NOT_HTTPS', `baseUrl ${config.baseUrl} is not https: cookies are not Secure and no HSTS is sent.`, 'Serve Atrium over TLS and set ATRIUM_BASE_URL=https://…');
  }
  if (baseUrlIsDerived(config)) {
    add(
      'DOC019_BASE_URL_NOT_SET',
      `ATRIUM_BASE_URL is not set, so links in mail (invitations, password resets) follow the server's own address, ${config.baseUrl}, which opens only on this machine.`,
      'Set ATRIUM_BASE_URL to the address people use, e.g. https://portal.yourfirm.com.',
    );
  } else {
    const url = new URL(config.baseUrl);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    if (LOCAL_HOSTS.includes(url.hostname) && config.port !== 0 && port !== config.port) {
      add('DOC022_BASE_URL_WRONG_PORT', `baseUrl ${config.baseUrl} names port ${port}, but Atrium listens on port ${config.port}: links in mail will not open.`, `Fix ATRIUM_BASE_URL, or unset it so it follows PORT.`);
    }
  }
  if (DEFAULT_SECRETS.some((s) => config.database.url.includes(s))) {
    add('DOC003_DEFAULT_DB_PASSWORD', 'DATABASE_URL carries a default or example password.', 'Give the database user a long random password.');
  }
  if (config.mail.transport === 'smtp' && config.mail.smtp.pass && DEFAULT_SECRETS.includes(config.mail.smtp.pass)) {
    add('DOC004_DEFAULT_SMTP_PASSWORD', 'The SMTP password is a default or example value.', 'Set ATRIUM_SMTP_PASS to the real credential.');
  }
  const keyFile = mfaKeyFile(config);
  if (!config.security.mfaKey) {
    add(
      'DOC005_MFA_KEY_IN_DATA_DIR',
      `No security.mfaKey is configured, so TOTP secrets are encrypted with ${keyFile}, which sits beside the data it protects (and in its backups).`,
      'Generate one (`openssl rand -base64 32`), set ATRIUM_MFA_KEY from your secret store, and keep it out of database backups.',
    );
    if (groupOrWorldReadable(keyFile)) add('DOC006_MFA_KEY_READABLE', `${keyFile} can be read by other users of this machine.`, `chmod 600 ${keyFile}`);
  }
  if (worldReadable(config.dataDir)) add('DOC007_DATA_DIR_WORLD_READABLE', `The data folder ${config.dataDir} is readable by every user of this machine.`, `chmod 700 ${config.dataDir}`);
  if (!isPostgres(config) && worldReadable(sqlitePath(config))) {
    add('DOC008_DB_FILE_WORLD_READABLE', `The SQLite file ${sqlitePath(config)} is readable by every user of this machine.`, `chmod 600 ${sqlitePath(config)}`);
  }
  const processes = Math.max(Number(env.WEB_CONCURRENCY ?? 1) || 1, env.NODE_APP_INSTANCE !== undefined || env.pm_id !== undefined ? 2 : 1);
  if (prod && !isPostgres(config) && processes > 1) {
    add('DOC009_SQLITE_MULTI_PROCESS', 'SQLite with more than one Atrium process (WEB_CONCURRENCY / a process manager cluster): writers will queue and time out.', 'Use PostgreSQL (DATABASE_URL) to run several processes.');
  }
  const publicHost = !['127.0.0.1', '::1', 'localhost'].includes(config.host);
  if (config.baseUrl.startsWith('https://') && publicHost && config.trustProxy.length === 0) {
    add(
      'DOC010_TRUST_PROXY_EMPTY',
      'baseUrl is https but Atrium itself serves plain HTTP on a public interface with no trusted proxy: behind a proxy, every client shares the proxy\'s IP (one rate-limit bucket, useless audit IPs).',
      'List the proxy in ATRIUM_TRUST_PROXY (IP or CIDR).',
    );
  }
  for (const p of config.trustProxy) {
    const [ip, bits] = p.split('/');
    if (!isIP(ip ?? '') || (bits !== undefined && !/^\d{1,3}$/.test(bits))) add('DOC011_TRUST_PROXY_INVALID', `trustProxy entry "${p}" is not an IP or CIDR.`, 'Fix ATRIUM_TRUST_PROXY.');
    if (bits === '0') add('DOC012_TRUST_PROXY_ANY', `trustProxy "${p}" trusts every address: anyone can forge X-Forwarded-For and dodge rate limits.`, 'List only your proxies.');
  }
  if (prod && config.mail.transport === 'file') add('DOC013_MAIL_FILE_TRANSPORT', 'Mail is written to files, not sent: invitations and resets never reach anyone.', 'Set ATRIUM_MAIL_TRANSPORT=smtp and the ATRIUM_SMTP_* settings.');
  if (config.mail.transport === 'smtp' && (config.mail.smtp.ignoreTLS || (!config.mail.smtp.secure && !config.mail.smtp.requireTLS))) {
    add('DOC014_SMTP_WITHOUT_TLS', 'SMTP may send mail (with reset links) without TLS.', 'Set ATRIUM_SMTP_SECURE=true (port 465) or ATRIUM_SMTP_REQUIRE_TLS=true, and ATRIUM_SMTP_IGNORE_TLS=false.');
  }
  if (/@(localhost|localhost\.localdomain|example\.(com|org|net))$/i.test(config.mail.from) && prod) {
    add('DOC015_MAIL_FROM_DEFAULT', `The sender address ${config.mail.from} is a placeholder: mail will be rejected or marked as spam.`, 'Set ATRIUM_MAIL_FROM to an address of your domain.');
  }
  if (config.auth.argon2MemoryKiB < 65536 || config.auth.argon2Iterations < 3) {
    add('DOC016_WEAK_PASSWORD_HASH', `argon2id m=${config.auth.argon2MemoryKiB} KiB, t=${config.auth.argon2Iterations} is below the recommended m=65536, t=3.`, 'Unset ATRIUM_ARGON2_MEMORY_KIB / ATRIUM_ARGON2_ITERATIONS.');
  }
  if (config.session.idleMinutes > 30 || config.session.absoluteHours > 12) {
    add('DOC017_LONG_SESSIONS', `Sessions last ${config.session.idleMinutes} min idle / ${config.session.absoluteHours} h, longer than 30 min / 12 h.`, 'Lower ATRIUM_SESSION_IDLE_MINUTES / ATRIUM_SESSION_ABSOLUTE_HOURS.');
  }
  if (prod && (config.log.level === 'debug' || config.log.level === 'trace')) add('DOC018_DEBUG_LOGS', `Log level ${config.log.level} in production.`, 'Set ATRIUM_LOG_LEVEL=info.');
  if (config.inbound.enabled) checkInbound(config, add);
  return out;
}

/** Reply by email (core/inbound.ts): the listener takes mail without AUTH or TLS, by design. */
function checkInbound(config: AtriumConfig, add: (code: string, message: string, fix: string) => void): void {
  const { host, port, domain, tokenTtlDays } = config.inbound;
  if (config.inbound.listen && !['127.0.0.1', '::1', 'localhost'].includes(host)) {
    add(
      'DOC025_INBOUND_OPEN_LISTENER',
      `The reply-by-email listener binds ${host}:${port}, without TLS or AUTH: anyone who reaches the port can hand it mail.`,
      `Allow only your MX or relay through the firewall to port ${port}, or bind ATRIUM_INBOUND_HOST=127.0.0.1 behind a relay that terminates TLS (README, "Replies by email").`,
    );
  }
  if (domain === config.mail.from.split('@')[1]?.toLowerCase()) {
    add(
      'DOC026_INBOUND_DOMAIN_IS_MAIL_DOMAIN',
      `The reply domain ${domain} is also the sender's domain: its MX is usually the firm's own mail service, so replies never reach Atrium.`,
      `Use a subdomain of its own (ATRIUM_INBOUND_DOMAIN=reply.${domain}) with an MX record pointing at this host or your relay.`,
    );
  }
  if (config.env === 'production' && /(^|\.)(localhost|localdomain|example|example\.(com|org|net)|test|invalid)$/i.test(domain)) {
    add('DOC027_INBOUND_DOMAIN_PLACEHOLDER', `The reply domain ${domain} is a placeholder: replies to it go nowhere.`, 'Set ATRIUM_INBOUND_DOMAIN to a subdomain of the firm\'s domain with an MX record.');
  }
  if (tokenTtlDays > 90) {
    add('DOC028_INBOUND_LONG_LIFETIME', `Reply addresses work for ${tokenTtlDays} days: an old mail forwarded on still lets its reader post as the recipient.`, 'Lower ATRIUM_INBOUND_TOKEN_TTL_DAYS (30 is the default).');
  }
}

/** Checks that read the database (the firm's MFA policy). */
export async function checkDatabase(db: Db): Promise<Finding[]> {
  try {
    const setting = await getSetting<{ requireMfaStaff?: boolean }>(db, SECURITY_SETTING);
    if (setting?.requireMfaStaff !== true) {
      return [{ code: 'DOC020_MFA_NOT_REQUIRED_FOR_STAFF', message: 'Two-step sign-in is not required for owners, admins and staff.', fix: 'Turn it on under Admin → Security (staff enrol at their next sign-in).' }];
    }
    return [];
  } catch (err) {
    return [{ code: 'DOC021_DATABASE_UNREADABLE', message: `The database could not be read (${(err as Error).message.split('\n')[0]}), so the MFA policy was not checked.`, fix: 'Check DATABASE_URL and run `atrium migrate`.' }];
  }
}

/**
 * Each enabled plugin's own checks (`doctor` in its definition), with its validated settings. A
 * plugin that cannot be loaded (or whose settings are refused) is a finding itself.
 */
export async function checkPlugins(config: AtriumConfig): Promise<Finding[]> {
  let plugins;
  try {
    plugins = await loadPlugins(config);
  } catch (err) {
    return [{ code: 'DOC023_PLUGINS_NOT_LOADED', message: `The enabled plugins could not be loaded, so their checks did not run: ${(err as Error).message.split('\n')[0]}`, fix: 'Fix plugins.enabled or plugins.settings; `atrium plugins` says more.' }];
  }
  const out: Finding[] = [];
  for (const p of plugins) {
    if (!p.def.doctor) continue;
    try {
      for (const f of await p.def.doctor({ config, settings: p.settings })) out.push({ code: f.code, message: `${p.id}: ${f.message}`, fix: f.fix });
    } catch (err) {
      out.push({ code: 'DOC024_PLUGIN_CHECK_FAILED', message: `${p.id}: its checks failed: ${(err as Error).message.split('\n')[0]}`, fix: 'Report this to the plugin\'s authors.' });
    }
  }
  return out;
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'Check the configuration for weak production settings (like Django check --deploy)',
  details: 'Prints one coded finding per line. Exits 0 unless --strict is given and there is at least one finding.',
  options: { strict: { type: 'boolean', description: 'Exit 1 if anything is found' } },
  async run(values) {
    const config = loadConfig();
    const findings = checkConfig(config);
    findings.push(...(await checkPlugins(config)));
    const db = createDb(config, pino({ level: 'silent' }));
    try {
      findings.push(...(await checkDatabase(db)));
    } finally {
      await db.destroy();
    }
    for (const f of findings) console.log(`warning ${f.code}  ${f.message}\n        fix: ${f.fix}`);
    console.log(findings.length ? `${findings.length} finding(s).` : 'No problems found.');
    return values.strict && findings.length ? 1 : 0;
  },
};
