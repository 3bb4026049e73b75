// The CLI commands. Each declares its options (parsed strictly: an unknown flag is an error)
// and a run function returning the exit code.
import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { loadConfig, PROJECT_ROOT } from '../config/load.ts';
import type { AtriumConfig } from '../config/schema.ts';
import { createLogger } from '../logger.ts';
import { systemClock } from '../clock.ts';
import { createServices, type Services } from '../services.ts';
import { CORE_MIGRATIONS, migrateAll, migrationStatus, hasPending, type MigrationSet } from '../db/migrations.ts';
import { loadPlugins, type LoadedPlugin } from '../plugins/loader.ts';
import { AtriumError } from '../errors.ts';
import { transaction } from '../db/index.ts';
import {
  addMember,
  createUser,
  createWorkspace,
  emailSchema,
  findUserByEmail,
  firmRoleSchema,
  nameSchema,
  slugSchema,
  workspaceRoleSchema,
  type Actor,
} from '../identity/users.ts';
import { passwordProblem } from '../identity/passwords.ts';
import { demoLoaded, seedDemo } from '../demo.ts';
import { checkTheme } from '../views/theme-check.ts';
import { auditCommands } from './audit.ts';
import { keyCommands } from './keys.ts';
import { doctorCommand } from './doctor.ts';
import type { z } from 'zod';
import type { WorkspaceRole } from '../plugins/define.ts';

type Values = Record<string, string | boolean | undefined>;

export interface Command {
  name: string;
  summary: string;
  usage?: string;
  details?: string;
  positionals?: number;
  options?: Record<string, { type: 'string' | 'boolean'; description?: string; valueName?: string }>;
  /** Exit code; -1 means "keep running" (the server). */
  run(values: Values, positionals: string[]): Promise<number | void>;
}

const CLI_ACTOR: Actor = { actorId: null, ip: null, userAgent: 'atrium-cli', via: 'cli' };

function usage(message: string): AtriumError {
  return new AtriumError('ATR_CLI_USAGE', message);
}

function required(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v.trim() === '') throw usage(`--${name} is required`);
  return v;
}

function check<T>(schema: z.ZodType<T>, value: unknown, flag: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw usage(`--${flag}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

/** Config, quiet logging to stderr, kernel services, plugins and an up-to-date schema. */
export async function withServices<T>(fn: (s: Services, plugins: LoadedPlugin[], sets: MigrationSet[]) => Promise<T>, opts: { migrate?: boolean } = {}): Promise<T> {
  const config = loadConfig();
  const logger = createLogger({ ...config, log: { level: 'warn' } }, pino.destination(2));
  const plugins = await loadPlugins(config);
  const s = createServices(config, logger, systemClock);
  const sets: MigrationSet[] = [CORE_MIGRATIONS, ...plugins.map((p) => ({ id: p.id, dir: p.migrationsDir }))];
  try {
    if (opts.migrate !== false) {
      if (config.database.migrateOnStart) await migrateAll(s.db, sets, logger);
      else {
        const pending = await hasPending(s.db, sets);
        if (pending.length) throw new AtriumError('ATR_NOT_MIGRATED', `pending: ${pending.join(', ')}; run \`atrium migrate\``);
      }
    }
    return await fn(s, plugins, sets);
  } finally {
    await s.db.destroy();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export const COMMANDS: Command[] = [
  {
    name: 'start',
    summary: 'Start the portal (migrates first unless ATRIUM_MIGRATE_ON_START=false)',
    details: 'Listens on $ATRIUM_HOST:$PORT (default 127.0.0.1:3000). SIGTERM or SIGINT drains requests and stops cleanly.',
    async run() {
      const started = performance.now();
      const { boot } = await import('../boot.ts');
      const kernel = await boot();
      kernel.logger.info({ ms: Math.round(performance.now() - started), sinceProcessStart: Math.round(process.uptime() * 1000) }, 'start-up complete');
      const shutdown = (signal: string) => {
        kernel.logger.info({ signal }, 'shutting down');
        kernel.stop().then(
          () => process.exit(0),
          (err) => {
            kernel.logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
      return -1;
    },
  },
  {
    name: 'migrate',
    summary: "Run pending migrations: the kernel's, then each enabled plugin's",
    options: { status: { type: 'boolean', description: 'Show each plugin’s applied and pending migrations; change nothing' } },
    async run(values) {
      return withServices(
        async (s, _plugins, sets) => {
          if (values.status) {
            const status = await migrationStatus(s.db, sets);
            const rows = [['PLUGIN', 'APPLIED', 'PENDING', 'STATE', 'LATEST']];
            for (const st of status) {
              rows.push([st.id, String(st.completed.length), String(st.pending.length), st.pending.length ? 'pending' : 'up to date', st.completed.at(-1) ?? '-']);
            }
            console.log(table(rows));
            for (const st of status) for (const p of st.pending) console.log(`  pending  ${st.id}: ${p}`);
            return 0;
          }
          const ran = await migrateAll(s.db, sets, s.logger);
          const total = ran.reduce((n, r) => n + r.ran.length, 0);
          for (const r of ran) for (const m of r.ran) console.log(`migrated  ${r.id}: ${m.replace(/\.(ts|js)$/, '')}`);
          console.log(total ? `${total} migration(s) applied.` : 'Already up to date.');
          return 0;
        },
        { migrate: false },
      );
    },
  },
  {
    name: 'user:create',
    summary: 'Create a person: firm staff (owner, admin, staff) or a client (no firm role)',
    options: {
      email: { type: 'string', valueName: 'email', description: 'Sign-in email (required)' },
      name: { type: 'string', valueName: 'name', description: 'Display name (required)' },
      password: { type: 'string', valueName: 'password', description: 'Password, at least 12 characters (or use --password-stdin)' },
      'password-stdin': { type: 'boolean', description: 'Read the password from standard input' },
      role: { type: 'string', valueName: 'role', description: 'owner | admin | staff | client (default client)' },
    },
    async run(values) {
      const email = check(emailSchema, required(values, 'email'), 'email');
      const name = check(nameSchema, required(values, 'name'), 'name');
      const roleRaw = typeof values.role === 'string' ? values.role : 'client';
      const firmRole = roleRaw === 'client' ? null : check(firmRoleSchema, roleRaw, 'role');
      const password = values['password-stdin'] ? await readStdin() : typeof values.password === 'string' ? values.password : undefined;
      if (!password) throw usage('--password or --password-stdin is required');
      const problem = passwordProblem(password, [name, email.split('@')[0]!]);
      if (problem) throw usage(`--password: ${problem}`);
      return withServices(async (s) => {
        const passwordHash = await s.passwords.hash(password);
        const user = await transaction(s.db, async (trx) => {
          if (await findUserByEmail(trx, email)) throw usage(`--email: ${email} already has an account`);
          return createUser(s, trx, { email, name, passwordHash, firmRole }, CLI_ACTOR);
        });
        console.log(`Created ${user.firmRole ?? 'client'} ${user.email} (${user.id}).`);
        return 0;
      });
    },
  },
  {
    name: 'workspace:create',
    summary: 'Create a client workspace',
    options: {
      name: { type: 'string', valueName: 'name', description: 'Client organisation name (required)' },
      slug: { type: 'string', valueName: 'slug', description: 'Address, as in /w/<slug> (default: from the name)' },
    },
    async run(values) {
      const name = check(nameSchema, required(values, 'name'), 'name');
      const slug = typeof values.slug === 'string' ? check(slugSchema, values.slug, 'slug') : undefined;
      return withServices(async (s) => {
        if (slug && (await s.db('workspaces').where({ slug }).first('id'))) throw usage(`--slug: "${slug}" is taken by another workspace`);
        const ws = await transaction(s.db, (trx) => createWorkspace(s, trx, { name, slug }, CLI_ACTOR));
        console.log(`Created workspace "${ws.name}" at /w/${ws.slug}/ (${ws.id}).`);
        return 0;
      });
    },
  },
  {
    name: 'member:add',
    summary: 'Add an existing person to a workspace with a role',
    options: {
      workspace: { type: 'string', valueName: 'slug', description: 'Workspace slug (required)' },
      email: { type: 'string', valueName: 'email', description: 'The person’s email (required)' },
      role: { type: 'string', valueName: 'role', description: 'client_admin | client_member | client_viewer | staff | a custom role key (required)' },
    },
    async run(values) {
      const slug = check(slugSchema, required(values, 'workspace'), 'workspace');
      const email = check(emailSchema, required(values, 'email'), 'email');
      const roleRaw = required(values, 'role');
      return withServices(async (s) => {
        // A built-in role, or the key of a custom role an admin made in /admin/roles.
        const custom = roleRaw.startsWith('custom-') ? await s.db('roles').where({ key: roleRaw }).first('key') : undefined;
        const role = custom ? (roleRaw as WorkspaceRole) : check(workspaceRoleSchema, roleRaw, 'role');
        const ws = await s.db('workspaces').where({ slug }).first('id', 'name');
        if (!ws) throw usage(`--workspace: no workspace "${slug}"`);
        const user = await findUserByEmail(s.db, email);
        if (!user) throw usage(`--email: no account for ${email}; create it with \`atrium user:create\``);
        if (role === 'staff' && !user.firmRole) throw usage('--role: staff membership is for firm staff; a client takes a client_* role');
        if (role !== 'staff' && user.firmRole) throw usage('--role: firm staff join a workspace with the role staff');
        if (await s.db('memberships').where({ workspace_id: ws.id, user_id: user.id }).first('id')) throw usage(`${email} is already a member of ${slug}`);
        await transaction(s.db, (trx) => addMember(s, trx, { workspaceId: String(ws.id), userId: user.id, role }, CLI_ACTOR));
        console.log(`Added ${email} to ${slug} as ${role}.`);
        return 0;
      });
    },
  },
  {
    name: 'demo:seed',
    summary: 'Load demo data: two client workspaces, their people, and what each enabled plugin seeds',
    details: 'Creates the Northwind and Globex workspaces, a staff member and client users (an admin, a member and a viewer of Northwind; an admin of Globex), then runs each enabled plugin\'s demo through its own services (built-ins: files and folders, approval requests, a document out for signature). Mail they send waits in the outbox like any other. Running it again changes nothing; a plugin enabled since adds only its own demo data.',
    options: { password: { type: 'string', valueName: 'password', description: 'Password for the demo accounts (default: random, printed once)' } },
    async run(values) {
      const password = typeof values.password === 'string' ? values.password : undefined;
      if (password !== undefined) {
        const problem = passwordProblem(password);
        if (problem) throw usage(`--password: ${problem}`);
      }
      // Nothing to do: say so without starting anything (a boot would start the server's workers).
      if (await withServices(async (s, plugins) => demoLoaded(s.db, plugins.filter((p) => p.def.demo).map((p) => p.id)))) {
        console.log('Demo data is already loaded; nothing changed.');
        return 0;
      }
      // A command is a server that does not listen: the same boot, so each plugin's demo hook runs
      // with the context and services it has in the server (its workers stop when we are done).
      const config = loadConfig();
      const logger = createLogger({ ...config, log: { level: 'warn' } }, pino.destination(2));
      const { boot } = await import('../boot.ts');
      const kernel = await boot({ config, logger, listen: false });
      try {
        const result = await seedDemo(kernel, CLI_ACTOR, password);
        if (result.created) {
          console.log(`Demo data loaded. Accounts: ${result.users.join(', ')}`);
          console.log(`Password for every demo account: ${result.password}`);
        } else if (!result.plugins.length) {
          console.log('Demo data is already loaded; nothing changed.');
          return 0;
        }
        if (result.plugins.length) console.log(`Demo data from the plugins: ${result.plugins.join(', ')}.`);
        return 0;
      } finally {
        await kernel.stop();
      }
    },
  },
  {
    name: 'plugins',
    summary: 'List plugins: id, version, state and what each requires',
    details: 'Enabled plugins come from plugins.enabled in the configuration or ATRIUM_PLUGINS. Built-ins in plugins/ that are not enabled are listed as disabled.',
    async run() {
      const config: AtriumConfig = loadConfig();
      const plugins = await loadPlugins(config);
      let states = new Map<string, string>();
      try {
        states = await withServices(
          async (s, _p, sets) => {
            const status = await migrationStatus(s.db, sets);
            return new Map(status.map((st) => [st.id, st.pending.length ? `enabled, ${st.pending.length} migration(s) pending` : 'enabled']));
          },
          { migrate: false },
        );
      } catch {
        states = new Map(plugins.map((p) => [p.id, 'enabled, database unreachable']));
      }
      const rows = [['ID', 'VERSION', 'STATE', 'REQUIRES', 'SOURCE']];
      for (const p of plugins) rows.push([p.id, p.def.version, states.get(p.id) ?? 'enabled', p.def.requires.join(', ') || '-', p.ref]);
      const builtinDir = join(PROJECT_ROOT, 'plugins');
      const enabled = new Set(plugins.map((p) => p.id));
      for (const dir of existsSync(builtinDir) ? readdirSync(builtinDir).sort() : []) {
        if (enabled.has(dir) || !existsSync(join(builtinDir, dir, 'index.ts'))) continue;
        const version = /version:\s*'([^']+)'/.exec(readFileSync(join(builtinDir, dir, 'index.ts'), 'utf8'))?.[1] ?? '?';
        rows.push([dir, version, 'disabled', '-', `plugins/${dir}`]);
      }
      if (rows.length === 1) {
        console.log('No plugins are enabled or installed. Enable one with ATRIUM_PLUGINS=<id> or plugins.enabled in config/local.json.');
        return 0;
      }
      console.log(table(rows));
      return 0;
    },
  },
  {
    name: 'theme:check',
    summary: 'Lint a theme folder: manifest, required templates, CSP-safe markup',
    usage: '<dir>',
    positionals: 1,
    async run(_values, positionals) {
      const dir = positionals[0];
      if (!dir) throw usage('give the theme folder, e.g. `atrium theme:check themes/default`');
      const findings = checkTheme(resolve(process.cwd(), dir));
      for (const f of findings) console.log(`${f.level.padEnd(7)} ${f.code}  ${f.file}: ${f.message}`);
      const errors = findings.filter((f) => f.level === 'error').length;
      console.log(errors ? `${errors} error(s); the theme cannot be used until they are fixed.` : `Theme OK${findings.length ? ` (${findings.length} warning(s))` : ''}.`);
      return errors ? 1 : 0;
    },
  },
  ...auditCommands,
  ...keyCommands(withServices),
  doctorCommand,
  ...(await import('./backup.ts')).backupCommands,
];
