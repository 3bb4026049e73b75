// The plugin contract. A plugin is one object passed to `definePlugin`; the kernel validates it
// (unknown keys rejected), sorts plugins by `requires`, runs their migrations, calls `register`,
// seeds their permissions, mounts their routes and views, then calls `bootstrap`.
import { z } from 'zod';
import semver from 'semver';
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { Knex } from 'knex';
import type { Container } from '../container.ts';
import type { AtriumConfig } from '../config/schema.ts';
import type { EventBus } from '../events.ts';
import type { RequestContext } from '../http/context.ts';
import { AtriumError } from '../errors.ts';
import { auditRulesSchema, type AuditSubjectRule } from '../audit-visibility.ts';
import { activitySchema } from '../activity.ts';

export const FIRM_ROLES = ['owner', 'admin', 'staff'] as const;
export const WORKSPACE_ROLES = ['client_admin', 'client_member', 'client_viewer', 'staff'] as const;
export const ROLES = ['owner', 'admin', 'staff', 'client_admin', 'client_member', 'client_viewer'] as const;
export type FirmRole = (typeof FIRM_ROLES)[number];
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];
export type Role = (typeof ROLES)[number];
export type Area = 'workspace' | 'staff' | 'admin';

/** Ids the kernel keeps for itself: URL segments and namespaces it already uses. */
const RESERVED_IDS = new Set(['core', 'admin', 'staff', 'w', 'assets', 'vendor', 'login', 'logout', 'setup', 'account', 'brand', 'theme', 'healthz', 'readyz', 'hooks']);

const kebab = z.string().regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'must be kebab-case (a-z, 0-9, single dashes)').max(40);
const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function');
const dirRef = z.union([z.instanceof(URL), z.string().min(1)]);
const ability = z.tuple([z.string().min(1), z.string().min(1)]);

const ruleSchema = z.strictObject({
  action: z.union([z.string(), z.array(z.string()).min(1)]),
  subject: z.union([z.string(), z.array(z.string()).min(1)]),
  conditions: z.record(z.string(), z.unknown()).optional(),
  fields: z.union([z.string(), z.array(z.string())]).optional(),
  inverted: z.boolean().optional(),
  reason: z.string().optional(),
});

const navSchema = z.strictObject({
  area: z.enum(['workspace', 'staff', 'admin']),
  label: z.string().min(1).max(40),
  /** Path under the area root: `/files` becomes `/w/<slug>/files`, `/staff/files`, `/admin/files`. */
  path: z.string().regex(/^\/[A-Za-z0-9/_-]*$/),
  can: ability.optional(),
  order: z.number().optional(),
  /**
   * A count beside the label (unread messages), fetched after the page is shown so no page view
   * pays a query for it: `path` (under the area root) answers the number as text, and it is
   * fetched again whenever the live event `event` reaches the person's open pages.
   */
  badge: z.strictObject({ path: z.string().regex(/^\/[A-Za-z0-9/_-]*$/), event: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/), label: z.string().min(1).max(40) }).optional(),
});

/**
 * An action another plugin offers on a subject's page ("Request approval" on a file): the owner
 * of the page lists whatever actions apply, without knowing which plugins exist.
 */
const actionSchema = z.strictObject({
  /** The permission subject whose page shows the action (`File`). */
  subject: z.string().regex(/^[A-Z][A-Za-z0-9]*$/),
  label: z.string().min(1).max(40),
  /** Under the workspace: `/approvals/new?subject=:id` becomes `/w/<slug>/approvals/new?subject=<id>`. */
  path: z.string().regex(/^\/[A-Za-z0-9/_?=&:.-]*$/),
  can: ability.optional(),
  /** Whether the action applies to this row (e.g. only to PDFs). */
  when: fn.optional(),
  order: z.number().optional(),
});

const widgetSchema = z.strictObject({
  id: kebab,
  area: z.enum(['workspace', 'staff']),
  title: z.string().min(1).max(80),
  /** A view of this plugin, `<plugin>/<view>`, rendered with what `load` returns. */
  view: z.string().regex(/^[a-z][a-z0-9-]*\/[A-Za-z0-9/_-]+$/),
  can: ability.optional(),
  order: z.number().optional(),
  load: fn.optional(),
  cache: z
    .union([
      z.literal(false),
      z.strictObject({
        maxAgeMs: z.number().int().min(0).max(3_600_000).optional(),
        reads: z.array(z.string().regex(/^[a-z][a-z0-9_]*$/)).optional(),
      }),
    ])
    .optional(),
});

const commandSchema = z.strictObject({
  /** `<plugin-id>:<verb>`, e.g. `files:scrub` (checked against the id in validatePlugin). */
  name: z.string().regex(/^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*$/, 'must be "<plugin-id>:<verb>" in kebab-case'),
  summary: z.string().min(1).max(120),
  details: z.string().max(2000).optional(),
  usage: z.string().max(200).optional(),
  positionals: z.number().int().min(0).max(10).optional(),
  options: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), z.strictObject({ type: z.enum(['string', 'boolean']), description: z.string().optional(), valueName: z.string().optional() })).optional(),
  run: fn,
});

export const pluginSchema = z.strictObject({
  id: kebab.refine((id) => !RESERVED_IDS.has(id), 'is reserved by the kernel'),
  version: z.string().refine((v) => semver.valid(v) !== null, 'must be a semver version'),
  kernel: z.string().refine((r) => semver.validRange(r) !== null, 'must be a semver range'),
  description: z.string().max(300).optional(),
  requires: z.array(kebab).default([]),
  migrations: dirRef.optional(),
  views: dirRef.optional(),
  /** Event names this plugin publishes: `<id>.<thing>.<verb>`. */
  events: z.array(z.string().regex(/^[a-z][a-z0-9-]*\.[a-z][a-zA-Z0-9]*\.[a-z][a-zA-Z0-9]*$/)).default([]),
  permissions: z
    .strictObject({
      subjects: z.record(z.string().regex(/^[A-Z][A-Za-z0-9]*$/), z.array(z.string().min(1)).min(1)),
      grants: z.partialRecord(z.enum(ROLES), z.array(ruleSchema)).default({}),
      /** The table holding each subject's rows, for accessibleBy() and the rule-agreement tests. */
      tables: z.record(z.string(), z.string().regex(/^[a-z][a-z0-9_]*$/)).default({}),
      /** Who may see audit events about each subject type this plugin records (core/audit-visibility.ts). */
      audit: auditRulesSchema.default({}),
    })
    .optional(),
  /** A sentence per audit action this plugin records, for activity pages (core/activity.ts). */
  activity: activitySchema.default({}),
  nav: z.array(navSchema).default([]),
  widgets: z.array(widgetSchema).default([]),
  actions: z.array(actionSchema).default([]),
  settings: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'must be a zod schema').optional(),
  register: fn.optional(),
  routes: fn.optional(),
  bootstrap: fn.optional(),
  destroy: fn.optional(),
  /** Demo data for the demo workspaces (`atrium demo:seed`, /setup's "Load demo data"): see DemoContext. */
  demo: fn.optional(),
  /** CLI commands (`atrium <plugin-id>:<verb>`), loaded only when one is run or listed. */
  commands: z.array(commandSchema).default([]),
  /** Deployment checks for `atrium doctor` (e.g. a test API key in production): see DoctorCheck. */
  doctor: fn.optional(),
});

export type PermissionRule = z.infer<typeof ruleSchema>;
export type NavItem = z.infer<typeof navSchema>;
export type SubjectAction = Omit<z.infer<typeof actionSchema>, 'when'> & { when?: (row: Record<string, unknown>) => boolean };

export interface WidgetContext {
  ctx: RequestContext;
  db: Knex;
  settings: unknown;
  /** The kernel clock's time for this request (tests move it with a manual clock). */
  now: number;
}

export interface Widget<M = unknown> {
  id: string;
  area: 'workspace' | 'staff';
  title: string;
  view: string;
  can?: [string, string];
  order?: number;
  load?: (w: WidgetContext) => Promise<M> | M;
  /**
   * What `load` returns is kept in the kernel's cache (core/cache.ts) per card, workspace, person
   * and role, until a write to that workspace's rows of any workspace-owned table, to memberships,
   * people, workspaces or roles, or to a table named in `reads` (tables without a workspace_id that
   * the card reads), and at most `maxAgeMs` (30 s: counts such as "overdue" move with the time).
   * `false`: load on every view (a card that reads anything else, such as notices or sessions).
   * The model must be plain data: it is shared by every later view.
   */
  cache?: false | { maxAgeMs?: number; reads?: string[] };
}

/** What every lifecycle hook receives. */
export interface PluginContext<S = unknown> {
  id: string;
  config: AtriumConfig;
  /** This plugin's own child container. `container.export(token, ...)` shares a service. */
  container: Container;
  events: EventBus;
  logger: Logger;
  /** This plugin's settings, validated by its `settings` schema. */
  settings: S;
}

/** Routers mounted at `/w/:workspace/<id>`, `/staff/<id>` and `/admin/<id>`. */
export interface PluginRouters {
  workspace: Router;
  staff: Router;
  admin: Router;
  /**
   * Mounted at `/l/<id>/:token`: pages reached from a single-purpose link in a mail (see
   * core/links.ts). The kernel resolves the token first and sets `req.ctx.link`.
   */
  link: Router;
  /**
   * Mounted at `/hooks/<id>`: raw-body routes for machine-to-machine callbacks (a payment
   * provider's webhook). `req.body` is the exact bytes sent, as a Buffer (at most 1 MiB, else
   * 413); nothing is parsed; there is no session, no CSRF check and no workspace, so the handler
   * must verify the caller's signature over those bytes before believing anything. Requests are
   * logged and limited per IP like others (core/http/webhooks.ts).
   */
  webhook: Router;
}

export interface RoutesContext<S = unknown> extends PluginContext<S> {
  db: Knex;
}

export interface BootstrapContext<S = unknown> extends PluginContext<S> {
  db: Knex;
}

/** A demo workspace (core/demo.ts: `northwind`, `globex`). */
export interface DemoWorkspace {
  id: string;
  slug: string;
  name: string;
}

/** A demo person, with their firm role or their role in each demo workspace (by slug). */
export interface DemoPerson {
  id: string;
  email: string;
  name: string;
  firmRole: FirmRole | null;
  roles: Record<string, WorkspaceRole>;
}

/**
 * What a plugin's `demo` hook gets besides its context: the demo workspaces and people the kernel
 * has just created, and a way to build on what other plugins seed without requiring them. Hooks
 * run once per installation, in dependency order, after the kernel's own demo data; each writes
 * through its plugin's own services (so rows, audit events and mail are what the product writes).
 */
export interface DemoContext {
  /** By slug: `northwind`, `globex`. */
  workspaces: Record<string, DemoWorkspace>;
  /** By the part of the email before the `@`: `sam.staff`, `ada`, `ben`, `eli`, `cara`. */
  people: Record<string, DemoPerson>;
  /** Who asked for the demo (the owner at /setup; nobody from the CLI). */
  actor: { actorId: string | null; ip: string | null; userAgent: string | null };
  clock: { now(): number };
  /** Put something this plugin seeded on offer to other plugins' demos (`approvable`, `signable`...). */
  offer(kind: string, item: Record<string, unknown>): void;
  /** Everything offered so far under `kind`, in offering order. */
  offers(kind: string): Array<Record<string, unknown>>;
  /**
   * Run `fn` once every plugin's demo hook has run: for seeding that builds on another plugin's
   * offers without requiring that plugin (approvals on files' documents).
   */
  later(fn: () => Promise<void> | void): void;
}

/** A plugin's CLI command. `run` gets the plugin's context (kernel services in its container, migrated db). */
export interface PluginCommand<S = unknown> {
  name: string;
  summary: string;
  details?: string;
  usage?: string;
  positionals?: number;
  options?: Record<string, { type: 'string' | 'boolean'; description?: string; valueName?: string }>;
  /** Exit code (0 success, 1 failure). Throw AtriumError('ATR_CLI_USAGE', ...) for bad input (exit 2). */
  run(ctx: BootstrapContext<S>, values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number | void> | number | void;
}

/** One finding of `atrium doctor`: a stable code (`<PLUGIN>nnn_WHAT`), a sentence and a fix. Never a secret. */
export interface DoctorFinding {
  code: string;
  message: string;
  fix: string;
}

/**
 * A plugin's deployment checks, run by `atrium doctor` with the validated configuration and the
 * plugin's settings (no database, no network): return what is wrong, [] when nothing is.
 */
export type DoctorCheck<S = unknown> = (ctx: { config: AtriumConfig; settings: S }) => DoctorFinding[] | Promise<DoctorFinding[]>;

export interface PluginDefinition<S = unknown> {
  id: string;
  version: string;
  kernel: string;
  description?: string;
  requires?: string[];
  migrations?: URL | string;
  views?: URL | string;
  events?: string[];
  permissions?: {
    subjects: Record<string, string[]>;
    grants?: Partial<Record<Role, PermissionRule[]>>;
    tables?: Record<string, string>;
    /** Who may see audit events about each subject type this plugin records (see docs/plugins.md). */
    audit?: Record<string, AuditSubjectRule>;
  };
  /** `{ 'notes.note.create': '{actor} wrote {subject}' }`: see docs/plugins.md "Activity in sentences". */
  activity?: Record<string, string>;
  nav?: NavItem[];
  widgets?: Widget<any>[];
  /** Actions this plugin offers on other plugins' subject pages (see SubjectAction). */
  actions?: SubjectAction[];
  settings?: z.ZodType<S>;
  register?: (ctx: PluginContext<S>) => void;
  routes?: (routers: PluginRouters, ctx: RoutesContext<S>) => void;
  bootstrap?: (ctx: BootstrapContext<S>) => Promise<void> | void;
  destroy?: (ctx: BootstrapContext<S>) => Promise<void> | void;
  /** Seed demo data into the demo workspaces, through this plugin's own services. */
  demo?: (ctx: BootstrapContext<S>, demo: DemoContext) => Promise<void> | void;
  commands?: PluginCommand<S>[];
  /** Checks `atrium doctor` runs for this plugin (see DoctorCheck). */
  doctor?: DoctorCheck<S>;
}

export type ValidPlugin = z.infer<typeof pluginSchema> & PluginDefinition<unknown> & { requires: string[]; events: string[]; nav: NavItem[]; widgets: Widget[]; commands: PluginCommand[] };

const DEFINED = Symbol.for('atrium.plugin');

/** Declare a plugin. Validation errors name the plugin and the key. */
export function definePlugin<S = unknown>(def: PluginDefinition<S>): PluginDefinition<S> {
  validatePlugin(def, typeof def?.id === 'string' ? def.id : '(unnamed plugin)');
  Object.defineProperty(def, DEFINED, { value: true });
  return def;
}

export function validatePlugin(def: unknown, name: string): ValidPlugin {
  const parsed = pluginSchema.safeParse(def);
  if (!parsed.success) {
    const msg = parsed.error.issues
      .map((i) => {
        const keys = i.code === 'unrecognized_keys' ? i.keys.map((k) => [...i.path, k].join('.')) : [i.path.join('.') || '(root)'];
        return `${keys.join(', ')}: ${i.code === 'unrecognized_keys' ? 'unknown key' : i.message}`;
      })
      .join('; ');
    throw new AtriumError('ATR_PLUGIN_INVALID', `${name}: ${msg}`, { details: { plugin: name } });
  }
  const p = parsed.data as ValidPlugin;
  for (const e of p.events) {
    if (!e.startsWith(`${p.id}.`)) throw new AtriumError('ATR_PLUGIN_INVALID', `${p.id}: event "${e}" must start with "${p.id}."`);
  }
  for (const c of p.commands) {
    if (!c.name.startsWith(`${p.id}:`)) throw new AtriumError('ATR_PLUGIN_INVALID', `${p.id}: command "${c.name}" must start with "${p.id}:"`);
  }
  if (new Set(p.commands.map((c) => c.name)).size !== p.commands.length) throw new AtriumError('ATR_PLUGIN_INVALID', `${p.id}: a command name is declared twice`);
  for (const w of p.widgets) {
    if (!w.view.startsWith(`${p.id}/`)) throw new AtriumError('ATR_PLUGIN_INVALID', `${p.id}: widget "${w.id}" view must be "${p.id}/<view>"`);
  }
  return p;
}
