// Demo data: two client workspaces, a staff member and client users, then each enabled plugin's
// own demo (files, an approval, a document to sign...) through its `demo` hook, so a new
// installation opens on a portal that is in use. The demo password is random per seed and shown
// once to whoever seeded. The kernel never names a plugin: it calls the hooks in dependency order.
import { randomBytes } from 'node:crypto';
import { transaction } from './db/index.ts';
import { AtriumError } from './errors.ts';
import { addMember, createUser, createWorkspace, findUserByEmail, type Actor } from './identity/users.ts';
import { getSetting, setSetting } from './settings.ts';
import type { Services } from './services.ts';
import type { DemoContext, DemoPerson, DemoWorkspace, FirmRole, WorkspaceRole } from './plugins/define.ts';

export const DEMO_WORKSPACES = [
  { slug: 'northwind', name: 'Northwind Traders' },
  { slug: 'globex', name: 'Globex Corporation' },
];

/** One person per role a firm wants to see the portal as (the crawl in test/browser signs in as each). */
export const DEMO_USERS: Array<{ email: string; name: string; firmRole: FirmRole | null; memberships: Array<[string, WorkspaceRole]> }> = [
  { email: 'sam.staff@firm.example', name: 'Sam Okafor', firmRole: 'staff', memberships: [['northwind', 'staff'], ['globex', 'staff']] },
  { email: 'ada@northwind.example', name: 'Ada Lindqvist', firmRole: null, memberships: [['northwind', 'client_admin']] },
  { email: 'eli@northwind.example', name: 'Eli Novak', firmRole: null, memberships: [['northwind', 'client_member']] },
  { email: 'ben@northwind.example', name: 'Ben Howell', firmRole: null, memberships: [['northwind', 'client_viewer']] },
  { email: 'cara@globex.example', name: 'Cara Mendes', firmRole: null, memberships: [['globex', 'client_admin']] },
];

/** A plugin's demo hook, bound to its context by boot (core/boot.ts). */
export interface PluginDemo {
  id: string;
  run(demo: DemoContext): Promise<void> | void;
}

export interface DemoResult {
  /** The kernel's demo (workspaces and people) was created by this call. */
  created: boolean;
  password?: string;
  users: string[];
  /** Plugins whose demo data this call added. */
  plugins: string[];
}

/**
 * Which plugins' demos have run and what they offered, kept once the kernel's demo exists (so a
 * plugin enabled later still finds what the others offered). Without it, a `northwind` workspace
 * is either a demo from before plugins had demos or a real client of that name: neither is touched.
 */
const MARKER = 'core.demo';
type Marker = { at: number; plugins: string[]; offers?: Record<string, Array<Record<string, unknown>>> };

/**
 * Seed the demo once. A second call changes nothing; a plugin enabled since the first gets its
 * own demo data (and nothing else changes).
 */
export async function seedDemo(s: Services & { demos?: PluginDemo[] }, actor: Actor, password = `demo-${randomBytes(9).toString('base64url')}`): Promise<DemoResult> {
  const users = DEMO_USERS.map((u) => u.email);
  const existing = await s.db('workspaces').where({ slug: DEMO_WORKSPACES[0]!.slug }).first('id');
  let marker = await getSetting<Marker>(s.db, MARKER);
  if (existing && !marker) return { created: false, users, plugins: [] };
  const created = !existing;
  if (created) {
    const passwordHash = await s.passwords.hash(password);
    marker = { at: s.clock.now(), plugins: [] };
    await transaction(s.db, async (trx) => {
      const ws = new Map<string, string>();
      for (const w of DEMO_WORKSPACES) ws.set(w.slug, (await createWorkspace(s, trx, w, { ...actor, via: 'demo' })).id);
      for (const u of DEMO_USERS) {
        const found = await findUserByEmail(trx, u.email);
        const user = found ?? (await createUser(s, trx, { email: u.email, name: u.name, passwordHash, firmRole: u.firmRole }, { ...actor, via: 'demo' }));
        for (const [slug, role] of u.memberships) await addMember(s, trx, { workspaceId: ws.get(slug)!, userId: user.id, role }, { ...actor, via: 'demo' });
      }
      await setSetting(trx, MARKER, marker, s.clock.now());
    });
  }
  const done = new Set(marker!.plugins);
  const todo = (s.demos ?? []).filter((d) => !done.has(d.id));
  if (todo.length) await runPluginDemos(s, actor, todo, marker!);
  return { created, ...(created ? { password } : {}), users, plugins: todo.map((d) => d.id) };
}

/** Whether `seedDemo` would change nothing, given the ids of the enabled plugins that have a demo hook. */
export async function demoLoaded(db: Services['db'], pluginIds: string[]): Promise<boolean> {
  if (!(await db('workspaces').where({ slug: DEMO_WORKSPACES[0]!.slug }).first('id'))) return false;
  const marker = await getSetting<Marker>(db, MARKER);
  return !marker || pluginIds.every((id) => marker.plugins.includes(id));
}

/** Each plugin's demo in dependency order, then what they deferred; the marker records them. */
async function runPluginDemos(s: Services, actor: Actor, todo: PluginDemo[], marker: Marker): Promise<void> {
  const workspaces: Record<string, DemoWorkspace> = {};
  for (const w of (await s.db('workspaces').whereIn('slug', DEMO_WORKSPACES.map((x) => x.slug)).select('id', 'slug', 'name')) as DemoWorkspace[]) {
    workspaces[w.slug] = { id: String(w.id), slug: w.slug, name: w.name };
  }
  const people: Record<string, DemoPerson> = {};
  const rows = (await s.db('users').whereIn('email', DEMO_USERS.map((u) => u.email)).select('id', 'email', 'name')) as Array<{ id: string; email: string; name: string }>;
  for (const u of DEMO_USERS) {
    const row = rows.find((r) => r.email === u.email);
    if (row) people[u.email.split('@')[0]!] = { id: String(row.id), email: row.email, name: row.name, firmRole: u.firmRole, roles: Object.fromEntries(u.memberships) };
  }
  const offered = new Map<string, Array<Record<string, unknown>>>(Object.entries(marker.offers ?? {}));
  const deferred: Array<{ id: string; fn: () => Promise<void> | void }> = [];
  let current = '';
  const demo: DemoContext = {
    workspaces,
    people,
    actor: { actorId: actor.actorId ?? null, ip: actor.ip ?? null, userAgent: actor.userAgent ?? null },
    clock: s.clock,
    offer: (kind, item) => void (offered.get(kind) ?? offered.set(kind, []).get(kind)!).push({ ...item, from: current }),
    offers: (kind) => [...(offered.get(kind) ?? [])],
    later: (fn) => void deferred.push({ id: current, fn }),
  };
  const step = async (id: string, fn: () => Promise<void> | void) => {
    current = id;
    try {
      await fn();
    } catch (err) {
      if (err instanceof AtriumError) throw err;
      throw new AtriumError('ATR_PLUGIN_HOOK_FAILED', `${id}.demo: ${(err as Error).message}`, { cause: err, details: { plugin: id } });
    }
  };
  for (const d of todo) await step(d.id, () => d.run(demo));
  for (const d of deferred) await step(d.id, d.fn);
  const after: Marker = { ...marker, plugins: [...marker.plugins, ...todo.map((d) => d.id)], offers: Object.fromEntries(offered) };
  await transaction(s.db, (trx) => setSetting(trx, MARKER, after, s.clock.now()));
}
