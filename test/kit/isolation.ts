// The isolation test kit. Boots Atrium with the given plugins and two seeded workspaces, A and B
// (B's rows carry a canary string), enumerates EVERY registered route (kernel and plugins) x
// method x role of A, and checks that:
//   - acting on B (B's workspace slug, or B's ids in A's workspace, or B's ids in the staff and
//     admin areas) answers 404, with and without HX-Request, and changes nothing in the database;
//   - B's canary never appears in any response A's people get: pages, fragments, exports, search;
//   - every GET (of A's own pages, by every role) leaves the database as it was;
//   - every plugin table that holds workspace rows has workspace_id NOT NULL;
//   - every audit event a person of A sees in A's activity names a subject they can read (its
//     page answers 200, or the rule's in-memory test passes), and every subject type in a
//     workspace's log has a declared audit rule.
//   - raw-body routes (`/hooks/<plugin>/...`, machine-to-machine webhooks): a call without the
//     caller's signature, anonymous or with A's session, is refused (4xx) and changes nothing;
//   - link routes (`/l/<plugin>/:token`): an unknown token, or A's token with B's ids, is 404 and
//     changes nothing; A's link pages (also without a session) never show B and never write.
//     Seed returns the token as `token@/l/<plugin>`.
// A route with a path parameter the kit has no fixture for FAILS the suite: a new route is
// covered automatically, or the build says exactly which fixture is missing.
//
// Plugins call it from their own tests:
//   const report = await runIsolationKit({ plugins: ['files'], seed: async (k, ws) => ({ fileId: ... }) });
//   assert.equal(report.violations, []);
import { randomBytes, createHash } from 'node:crypto';
import type { Kernel } from '../../core/boot.ts';
import { transaction } from '../../core/db/index.ts';
import { newId } from '../../core/ids.ts';
import { addMember, createUser, createWorkspace, type Workspace } from '../../core/identity/users.ts';
import { routeTable, type RouteEntry } from '../../core/http/route-table.ts';
import { canOnRow } from '../../core/permissions.ts';
import type { WorkspaceRole } from '../../core/plugins/define.ts';
import { isWebhookPath } from '../../core/http/webhooks.ts';
import { startApp, setupOwner, type TestApp } from '../helpers/app.ts';
import { cacheOf } from '../../core/cache.ts';
import { HttpClient } from '../helpers/http.ts';

export const A_ROLES = ['client_admin', 'client_member', 'client_viewer', 'staff'] as const;
export type ARole = (typeof A_ROLES)[number];

export interface SeedContext {
  kernel: Kernel;
  workspace: Workspace;
  /** Text to put in every human-readable field of B's rows ('' for A). */
  canary: string;
  /** User ids of this workspace's people, by role. */
  users: Record<ARole, string>;
}

/**
 * Values for path parameters, by parameter name (`noteId`, `token`...). A key `name@/path/prefix`
 * applies only to routes under that prefix (the longest prefix wins), for a name like `id` that
 * means different rows in different routes: `{ 'id@/admin/mail': messageId, 'id@/admin/people': userId }`.
 */
export type ParamValues = Record<string, string>;

function valueFor(values: ParamValues, path: string, name: string): string | undefined {
  let best: { len: number; v: string } | undefined;
  for (const [key, v] of Object.entries(values)) {
    const at = key.indexOf('@');
    if (at < 0 || key.slice(0, at) !== name) continue;
    const prefix = key.slice(at + 1);
    if (path.startsWith(prefix) && (!best || prefix.length > best.len)) best = { len: prefix.length, v };
  }
  return best?.v ?? values[name];
}

export interface IsolationOptions {
  plugins: string[];
  /** Configuration layered over the test defaults (a plugin's required settings). */
  overrides?: Record<string, unknown>;
  /** Seed rows in one workspace; return the ids the routes' parameters take. Called for A, then B. */
  seed?: (ctx: SeedContext) => Promise<ParamValues>;
  /**
   * Routes the kit must not drive as tenant routes, each with the reason ("METHOD /path").
   * For routes addressed by a secret token rather than a session (invitations, resets), which
   * have their own tests.
   */
  exempt?: Record<string, string>;
  /** Tables whose rows may change on any request (sessions, rate-limit counters, read markers). */
  volatileTables?: string[];
  /**
   * GET routes that write on purpose, with the reason ("METHOD /path": a download receipt or an
   * export is an audit event). Every other GET must leave the database as it was (control 20).
   */
  getWrites?: Record<string, string>;
  /** Plugin tables that are deliberately firm-wide (no workspace_id), with the reason. */
  globalTables?: Record<string, string>;
}

export interface IsolationReport {
  routes: RouteEntry[];
  requests: number;
  violations: string[];
  /**
   * The kernel's read cache during the run (core/cache.ts): the kit runs with it on, as in
   * production, so a cached session, workspace list or card that crossed workspaces would show
   * up as a violation above. `hits` proves it was used.
   */
  cache: { usable: boolean; hits: number };
}

// waiting_counts: the header's cached "waiting on you" count, filled in on a person's first page.
const KERNEL_VOLATILE = ['sessions', 'waiting_counts'];

/** Kernel routes addressed by a secret token rather than a session; each has its own tests. */
const KERNEL_EXEMPT: Record<string, string> = {
  'GET /assets/theme/*path': 'public theme files, no tenant data',
  'GET /invite/:token': 'addressed by a secret token, not a session: test/identity',
  'POST /invite/:token': 'addressed by a secret token, not a session: test/identity',
  'GET /password/reset/:token': 'addressed by a secret token: test/identity',
  'POST /password/reset/:token': 'addressed by a secret token: test/identity',
  'GET /account/email/confirm/:token': 'addressed by a secret token: test/identity',
  'POST /account/email/confirm/:token': 'addressed by a secret token: test/identity',
};

/**
 * Route parameters that name no tenant's data: the same value in every workspace (a home card's
 * key). A route whose only other parameter is the workspace is still driven at B's workspace.
 */
const KERNEL_SHARED_PARAMS = ['key@/w/:workspace/_widgets/', 'key@/staff/_widgets/'];
const sharedParam = (path: string, name: string) => KERNEL_SHARED_PARAMS.some((k) => k.startsWith(`${name}@`) && path.startsWith(k.slice(name.length + 1)));

/** Kernel GET routes that write on purpose: an export is itself an audit event. */
const KERNEL_GET_WRITES: Record<string, string> = {
  'GET /admin/audit/export.csv': 'the export is recorded in the audit log',
  'GET /admin/audit/export.json': 'the export is recorded in the audit log',
  'GET /w/:workspace/audit/export.csv': 'the export is recorded in the audit log',
  'GET /w/:workspace/audit/export.json': 'the export is recorded in the audit log',
};

/** The kernel's own rows in one workspace (B's carry the canary) and the ids its routes take. */
async function kernelSeed({ kernel, workspace, canary, users }: SeedContext): Promise<ParamValues> {
  const { invite } = await import('../../core/identity/invitations.ts');
  const mailId = await transaction(kernel.db, async (trx) => {
    await kernel.mail.enqueue(trx, { to: `client.admin@${workspace.slug}.example`, subject: `Welcome ${canary}`, text: `Hello ${canary}`, workspaceId: workspace.id });
    return String((await trx('outbox').where({ workspace_id: workspace.id }).orderBy('created_at', 'desc').first('id')).id);
  });
  const invitationId = await transaction(kernel.db, (trx) =>
    invite(kernel, trx, { workspace: { id: workspace.id, name: workspace.name }, email: `invitee-${canary.toLowerCase() || 'a'}@${workspace.slug}.example`, role: 'client_member', inviter: { id: users.staff, name: 'Staff' } }, { actorId: users.staff }),
  );
  const membership = await kernel.db('memberships').where({ workspace_id: workspace.id, user_id: users.client_admin }).first('id');
  // Custom roles are firm-wide: one is enough for both sides.
  let role = await kernel.db('roles').first('id');
  if (!role) {
    role = { id: newId() };
    await kernel.db('roles').insert({ id: role.id, key: 'custom-kit', name: 'Kit role', permissions: '[]', created_at: 1, updated_at: 1 });
  }
  return {
    'id@/admin/workspaces': workspace.id,
    'id@/admin/roles': String(role.id),
    'id@/admin/people': users.client_admin,
    mid: String(membership.id),
    'id@/admin/mail': mailId,
    'id@/w/:workspace/invitations': invitationId,
    // A card's late URL (core/http/routes/home.ts): a real card's key where the area has one.
    'key@/w/:workspace/_widgets': kernel.navigation.widgetKeys('workspace')[0] ?? 'none-none',
    'key@/staff/_widgets': kernel.navigation.widgetKeys('staff')[0] ?? 'none-none',
  };
}

export async function runIsolationKit(opts: IsolationOptions): Promise<IsolationReport> {
  const app = await startApp({ plugins: opts.plugins, overrides: opts.overrides });
  try {
    return await exercise(app, opts);
  } finally {
    await app.close();
  }
}

async function seedWorkspace(app: TestApp, name: string, slug: string, canary: string, password: string) {
  const k = app.kernel;
  const hash = await k.passwords.hash(password);
  const users = {} as Record<ARole, string>;
  const emails = {} as Record<ARole, string>;
  const ws = await transaction(k.db, async (trx) => {
    const w = await createWorkspace(k, trx, { name, slug }, { actorId: null, via: 'cli' });
    for (const role of A_ROLES) {
      const email = `${role.replace('_', '.')}@${slug}.example`;
      const u = await createUser(k, trx, { email, name: `${role} of ${name}`, passwordHash: hash, firmRole: role === 'staff' ? 'staff' : null }, { actorId: null, via: 'cli' });
      await addMember(k, trx, { workspaceId: w.id, userId: u.id, role: role as WorkspaceRole }, { actorId: null, via: 'cli' });
      users[role] = u.id;
      emails[role] = email;
    }
    return w;
  });
  void canary;
  return { ws, users, emails };
}

async function fingerprint(k: Kernel, volatile: Set<string>): Promise<string> {
  const tables = await listTables(k);
  const h = createHash('sha256');
  for (const t of tables.filter((t) => !volatile.has(t) && !t.startsWith('knex_migrations')).sort()) {
    const rows = await k.db(t).select('*');
    const lines = rows.map((r: Record<string, unknown>) => JSON.stringify(r)).sort();
    h.update(`${t}:${lines.join('\n')}\n`);
  }
  return h.digest('hex');
}

async function listTables(k: Kernel): Promise<string[]> {
  if (k.config.database.url) {
    const schema = k.config.database.schema ?? 'public';
    const r = await k.db.raw('select table_name from information_schema.tables where table_schema = ? and table_type = ?', [schema, 'BASE TABLE']);
    return r.rows.map((x: { table_name: string }) => x.table_name);
  }
  const rows = await k.db.raw("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'");
  return (rows as Array<{ name: string }>).map((x) => x.name);
}

/** Plugin tables (`<id>_...`) must carry workspace_id NOT NULL unless declared firm-wide. */
async function checkSchema(k: Kernel, opts: IsolationOptions, violations: string[]): Promise<void> {
  const tables = await listTables(k);
  for (const p of k.plugins) {
    const prefix = `${p.id.replace(/-/g, '_')}_`;
    for (const t of tables.filter((x) => x.startsWith(prefix))) {
      if (opts.globalTables?.[t]) continue;
      const info = (await k.db(t).columnInfo()) as Record<string, { nullable: boolean }>;
      if (!info.workspace_id) violations.push(`schema: ${t} has no workspace_id (declare it in globalTables with a reason if it is firm-wide)`);
      else if (info.workspace_id.nullable) violations.push(`schema: ${t}.workspace_id is nullable`);
    }
  }
}

function params(path: string): string[] {
  return [...path.matchAll(/[:*]([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
}

/** `values` with every entry for `name` (plain or `name@prefix`) replaced by `v`. */
function withValue(values: ParamValues, name: string, v: string): ParamValues {
  return { ...Object.fromEntries(Object.entries(values).filter(([k]) => k !== name && !k.startsWith(`${name}@`))), [name]: v };
}

function fill(path: string, values: ParamValues): string {
  return path.replace(/[:*]([A-Za-z0-9_]+)/g, (_m, name: string) => encodeURIComponent(valueFor(values, path, name)!));
}

async function exercise(app: TestApp, opts: IsolationOptions): Promise<IsolationReport> {
  const k = app.kernel;
  const violations: string[] = [];
  const canary = `CANARY-${randomBytes(6).toString('hex')}`;
  const password = 'isolation-kit-password';
  await setupOwner(app);
  const A = await seedWorkspace(app, 'Alpha Holdings', 'iso-a', '', password);
  const B = await seedWorkspace(app, `Bravo ${canary}`, 'iso-b', canary, password);
  // B's people carry the canary in their names too.
  await k.db('users').whereIn('id', Object.values(B.users)).update({ name: k.db.raw('? || name', [`${canary} `]) });
  const seedA: SeedContext = { kernel: k, workspace: A.ws, canary: '', users: A.users };
  const seedB: SeedContext = { kernel: k, workspace: B.ws, canary, users: B.users };
  const aValues: ParamValues = { workspace: A.ws.slug, slug: A.ws.slug, ...(await kernelSeed(seedA)), ...(await opts.seed?.(seedA)) };
  const bValues: ParamValues = { workspace: B.ws.slug, slug: B.ws.slug, ...(await kernelSeed(seedB)), ...(await opts.seed?.(seedB)) };
  const exempt = { ...KERNEL_EXEMPT, ...(opts.exempt ?? {}) };

  await checkSchema(k, opts, violations);
  await writeAuditProbes(k, A.ws.id, A.users.staff);

  const clients = {} as Record<ARole, HttpClient>;
  for (const role of A_ROLES) {
    const c = app.client();
    const res = await c.login(A.emails[role], password);
    if (res.status !== 303) throw new Error(`isolation kit: ${role} of A could not sign in (${res.status})`);
    await c.get('/');
    await c.get(`/w/${A.ws.slug}/`);
    clients[role] = c;
  }

  const volatile = new Set([...KERNEL_VOLATILE, ...(opts.volatileTables ?? [])]);
  // Reads first: a broken unsafe route could delete B's rows and hide a leak from later reads.
  const routes = routeTable(k.app)
    .filter((r) => r.method !== 'HEAD')
    .sort((a, b) => Number(a.method !== 'GET') - Number(b.method !== 'GET'));
  let requests = 0;
  const webhookRoutes: RouteEntry[] = [];

  const send = async (role: ARole, method: string, url: string, hx: boolean) => {
    const c = clients[role];
    requests++;
    const headers: Record<string, string> = hx ? { 'HX-Request': 'true' } : {};
    if (method === 'GET') return c.get(url, headers);
    return c.request(method, url, { body: '', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': c.csrf ?? '' } });
  };
  const leaks = (text: string, location: string | null) => text.includes(canary) || (location ?? '').includes(canary);

  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    if (exempt[key]) continue;
    const names = params(route.path);
    const missing = names.filter((n) => valueFor(aValues, route.path, n) === undefined || valueFor(bValues, route.path, n) === undefined);
    if (missing.length) {
      violations.push(`${key}: no isolation fixture for ${missing.map((m) => `:${m}`).join(', ')} (return it from seed(), or exempt the route with a reason)`);
      continue;
    }
    const tenantNames = names.filter((n) => !sharedParam(route.path, n));
    const tenantAddressed = tenantNames.length > 0;

    // Raw-body routes (webhooks) are driven last, below: a broken one could delete B's rows.
    if (isWebhookPath(route.path)) {
      webhookRoutes.push(route);
      continue;
    }

    // 1'. Link routes (`/l/<plugin>/:token`, core/links.ts) act for the token, not the session:
    //    an unknown token, or A's token with B's ids, must be 404 and change nothing. (B's own
    //    token is B's to use: a link is a bearer credential for exactly one purpose.)
    if (route.path.startsWith('/l/')) {
      const targets = new Set([fill(route.path, withValue(aValues, 'token', randomBytes(32).toString('base64url')))]);
      if (names.some((n) => n !== 'token')) targets.add(fill(route.path, withValue(bValues, 'token', valueFor(aValues, route.path, 'token')!)));
      for (const url of targets) {
        for (const hx of [false, true]) {
          const before = await fingerprint(k, volatile);
          const res = await send('client_admin', route.method, url, hx);
          if (res.status !== 404) violations.push(`${key}: ${url}${hx ? ' (htmx)' : ''} answered ${res.status}, expected 404`);
          if (before !== (await fingerprint(k, volatile))) violations.push(`${key}: ${url}${hx ? ' (htmx)' : ''} changed the database`);
          if (leaks(res.text, res.location)) violations.push(`${key}: ${url} saw B's canary`);
        }
      }
      if (route.method === 'GET') {
        // Without any session too: a link works for whoever holds it, and shows only its own workspace.
        const anon = app.client();
        const url = fill(route.path, aValues);
        const before = await fingerprint(k, volatile);
        const res = await anon.get(url);
        requests++;
        if (res.status >= 500) violations.push(`${key}: anonymous on ${url} answered ${res.status}`);
        if (leaks(res.text, res.location)) violations.push(`${key}: anonymous on ${url} saw B's canary`);
        const getWrites = { ...KERNEL_GET_WRITES, ...(opts.getWrites ?? {}) };
        if (!getWrites[key] && before !== (await fingerprint(k, volatile))) violations.push(`${key}: a GET by link changed the database (declare it in getWrites with a reason if it must)`);
      }
    }

    // 1. Acting on B: B's workspace, or B's ids (in A's workspace too), must be 404 and change nothing.
    if (tenantAddressed && !route.path.startsWith('/l/')) {
      const targets = new Set([fill(route.path, bValues)]);
      if (tenantNames.includes('workspace') && tenantNames.length > 1) targets.add(fill(route.path, { ...bValues, workspace: A.ws.slug, slug: A.ws.slug }));
      for (const url of targets) {
        for (const role of A_ROLES) {
          for (const hx of [false, true]) {
            const before = await fingerprint(k, volatile);
            const res = await send(role, route.method, url, hx);
            const after = await fingerprint(k, volatile);
            if (res.status !== 404) violations.push(`${key}: ${role} of A on ${url}${hx ? ' (htmx)' : ''} answered ${res.status}, expected 404`);
            if (before !== after) violations.push(`${key}: ${role} of A on ${url}${hx ? ' (htmx)' : ''} changed the database`);
            if (leaks(res.text, res.location)) violations.push(`${key}: ${role} of A on ${url} saw B's canary`);
          }
        }
      }
    }

    // 2. A's own pages, fragments and exports (GET only: they must not change anything anyway)
    //    never show B's canary.
    if (route.method === 'GET') {
      const url = fill(route.path, aValues);
      const getWrites = { ...KERNEL_GET_WRITES, ...(opts.getWrites ?? {}) };
      const before = getWrites[key] ? '' : await fingerprint(k, volatile);
      for (const role of A_ROLES) {
        for (const hx of [false, true]) {
          const res = await send(role, 'GET', url, hx);
          if (res.status >= 500) violations.push(`${key}: ${role} of A on ${url} answered ${res.status}`);
          if (leaks(res.text, res.location)) violations.push(`${key}: ${role} of A on ${url}${hx ? ' (htmx)' : ''} saw B's canary`);
        }
      }
      // A GET never changes state (SECURITY.md control 20): mail scanners and prefetchers follow links.
      if (!getWrites[key] && before !== (await fingerprint(k, volatile))) violations.push(`${key}: a GET changed the database (declare it in getWrites with a reason if it must)`);
    } else if (!tenantAddressed && (route.path.startsWith('/staff') || route.path.startsWith('/admin'))) {
      // 3. Unsafe staff/admin routes without ids: A's clients cannot reach them at all.
      for (const role of ['client_admin', 'client_member', 'client_viewer'] as const) {
        const before = await fingerprint(k, volatile);
        const res = await send(role, route.method, route.path, false);
        if (res.status !== 404) violations.push(`${key}: ${role} of A answered ${res.status}, expected 404`);
        if (before !== (await fingerprint(k, volatile))) violations.push(`${key}: ${role} of A changed the database`);
      }
    }
  }
  // 5. Raw-body routes (core/http/webhooks.ts) answer to a signature, not a session: a call
  //    without one (a forged event naming B's rows, anonymous or with A's session) is refused
  //    and changes nothing. Their per-IP counters (throttle) are expected to move.
  for (const route of webhookRoutes) {
    const key = `${route.method} ${route.path}`;
    const url = fill(route.path, aValues);
    const forged = JSON.stringify({ id: `evt_${canary}`, type: 'checkout.session.completed', workspace: B.ws.id, canary });
    for (const who of ['anonymous', 'client_admin'] as const) {
      const c = who === 'anonymous' ? app.client() : clients.client_admin;
      const before = await fingerprint(k, new Set([...volatile, 'throttle']));
      const res = await c.request(route.method, url, { body: route.method === 'GET' ? undefined : forged, headers: { 'content-type': 'application/json' } });
      requests++;
      if (res.status < 400 || res.status >= 500) violations.push(`${key}: ${who} without a signature answered ${res.status}, expected 4xx`);
      if (before !== (await fingerprint(k, new Set([...volatile, 'throttle'])))) violations.push(`${key}: ${who} without a signature changed the database`);
      if (leaks(res.text, res.location)) violations.push(`${key}: ${who} saw B's canary`);
    }
  }
  // 4. Who sees an audit event (issue 13): every event a person of A can see in A's activity
  //    names a subject that person can read, and every subject type in a workspace's log has a
  //    declared rule (permissions.audit), so no plugin's events bypass the test.
  requests += await checkAuditVisibility(app, A.ws.slug, clients, violations);
  const cache = cacheOf(app.kernel.db);
  return { routes, requests, violations, cache: { usable: Boolean(cache?.usable), hits: cache?.stats.hits ?? 0 } };
}

/**
 * One event about every row of every declared audit subject in A (written as A's staff), so the
 * activity check below sees events about internal rows too, whatever the plugin's seed wrote.
 */
async function writeAuditProbes(k: Kernel, workspaceId: string, actorId: string): Promise<void> {
  const audit = k.permissions.audit;
  for (const type of audit.types()) {
    const rule = audit.get(type)!;
    const table = rule.via?.table ?? rule.rowsTable;
    if (!table) continue;
    const ids = ((await k.db(table).where({ workspace_id: workspaceId }).pluck('id')) as unknown[]).map(String);
    if (!ids.length) continue;
    const owner = rule.owner;
    await transaction(k.db, async (trx) => {
      for (const id of ids) await k.audit.record(trx, { actorId, workspaceId, action: `${owner}.isolationKit.probe`, subjectType: type, subjectId: id });
    });
  }
}

async function checkAuditVisibility(app: TestApp, slug: string, clients: Record<ARole, HttpClient>, violations: string[]): Promise<number> {
  const k = app.kernel;
  const audit = k.permissions.audit;
  let requests = 0;
  const types = (await k.db('audit_events').whereNotNull('workspace_id').whereNotNull('subject_type').distinct('subject_type', 'action')) as Array<{ subject_type: string; action: string }>;
  for (const t of types) if (!audit.get(t.subject_type)) violations.push(`audit: events "${t.action}" name subject type ${t.subject_type}, which has no audit rule (declare permissions.audit.${t.subject_type})`);
  for (const role of A_ROLES) {
    const c = clients[role];
    // What the activity page shows this person: every row's event id, page after page.
    const ids: string[] = [];
    let url: string | null = `/w/${slug}/audit`;
    while (url) {
      const res = await c.get(url);
      requests++;
      if (res.status !== 200) {
        if (res.status !== 404 || ids.length) violations.push(`audit: ${role} of A got ${res.status} for ${url}`);
        break;
      }
      ids.push(...[...res.text.matchAll(/data-event="([^"]+)"/g)].map((m) => m[1]!));
      const next = /<a href="([^"]+)" rel="next"/.exec(res.text)?.[1];
      url = next ? next.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&') : null;
      if (ids.length > 5000) break;
    }
    const rows: Array<{ action: string; subject_type: string | null; subject_id: string | null }> = [];
    for (let i = 0; i < ids.length; i += 500) rows.push(...((await k.db('audit_events').whereIn('id', ids.slice(i, i + 500)).select('action', 'subject_type', 'subject_id')) as typeof rows));
    const firm = role === 'staff' ? 'staff' : null;
    const ability = k.permissions.abilityFor(firm, role);
    const opened = new Map<string, number>();
    for (const row of rows) {
      const what = `${role} of A sees "${row.action}" on ${row.subject_type || '(no subject)'} ${row.subject_id ?? ''}`.trimEnd();
      const rule = row.subject_type ? audit.get(row.subject_type) : undefined;
      if (!rule) {
        violations.push(`audit: ${what}, a subject type without an audit rule`);
        continue;
      }
      // What people read is a sentence: every action they can see has one (not the fallback wording).
      if (!row.action.endsWith('.isolationKit.probe') && !k.permissions.activity.has(row.action)) violations.push(`audit: ${what}, an action without an activity sentence (add it to the plugin's \`activity\`)`);
      if (!row.subject_id) continue; // "all of them": shown only with an unconditional right (checked by the rule itself)
      // The subject's row, through `via` when the event names a child row.
      let subjectRow: Record<string, unknown> | undefined;
      if (rule.read && rule.rowsTable) {
        let id: string = row.subject_id;
        if (rule.via) id = String((await k.db(rule.via.table).where({ id }).first(rule.via.column))?.[rule.via.column] ?? '');
        subjectRow = id ? ((await k.db(rule.rowsTable).where({ id }).first()) as Record<string, unknown> | undefined) : undefined;
        const [action, subject] = rule.read;
        if (!subjectRow || !canOnRow(ability, action, subject, subjectRow)) violations.push(`audit: ${what} in the activity, but may not ${action} that ${subject}`);
      }
      // And its page answers 200 (a rule with its own query has no other test). A row in the
      // trash has no page of its own, so only a live row is opened.
      if (rule.path && !rule.via && !(subjectRow && subjectRow.deleted_at != null)) {
        const url = `/w/${slug}${rule.path.replace(':id', encodeURIComponent(row.subject_id))}`;
        let status = opened.get(url);
        if (status === undefined) {
          status = (await c.get(url)).status;
          requests++;
          opened.set(url, status);
        }
        if (status !== 200) violations.push(`audit: ${what} in the activity, but ${url} answers ${status}`);
      }
      if (rule.read && !rule.rowsTable && !ability.can(rule.read[0], rule.read[1])) {
        violations.push(`audit: ${what} in the activity, but may not ${rule.read[0]} ${rule.read[1]}`);
      }
    }
  }
  return requests;
}
