// "Waiting on you": the kernel's contract through which plugins contribute the things awaiting a
// person (an approval to decide, a document to sign; later an invoice to pay, a ticket waiting on
// the client, an onboarding step). A plugin registers a provider in `register`; the kernel asks
// every provider for one person, across all their workspaces at once, and shows the result as the
// home card, the `/inbox` page and the count in the header. No plugin knows the others.
//
//   waiting.register('signatures', {
//     id: 'signatures.sign', kind: 'Signature', verb: 'Sign',
//     query: (db, person) => db('signatures_signers as s')...select('s.id', 's.workspace_id', 'e.title', ...),
//     href: (row) => `/signatures/sign/${row.id}/`,
//     changes: { 'signatures.envelope.sent': (db, p) => signerIds(db, p) },
//   });
//
// Costs (docs/performance.md, "Waiting on you"): a list or a count is ONE query per provider,
// whatever the number of workspaces (the provider's query is wrapped, filtered to the person's
// workspaces, ordered and counted by the kernel). The header's count is stored per person in
// `waiting_counts` and read with the session (no query of its own); it is recomputed when a
// provider's plugin publishes one of its `changes` events (for the people that event names),
// when a membership changes, and at most every `COUNT_TTL_MS` otherwise. Every recount is sent to
// the person's open pages (live event `waiting`).
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import { afterCommit, isPostgresClient, transaction, type Db, type Trx } from './db/index.ts';
import { AtriumError } from './errors.ts';
import type { EventBus } from './events.ts';
import type { LiveService } from './live.ts';
import { accessibleBy, type AppAbility, type PermissionRegistry } from './permissions.ts';
import type { FirmRole } from './plugins/define.ts';

/** One of the person's workspaces, with their role there and the ability that role gives them. */
export interface WaitingWorkspace {
  id: string;
  slug: string;
  name: string;
  /** Their membership role (`client_admin`, `staff`, a custom role), or null for an owner or admin who is not a member. */
  role: string | null;
  ability: AppAbility;
}

/** The person a provider answers for. */
export interface WaitingPerson {
  userId: string;
  firmRole: FirmRole | null;
  /** The workspaces asked about: all the person's (inbox, header) or one (the workspace home). */
  workspaces: WaitingWorkspace[];
  /** Ids of those workspaces, or of those where the person's role may `action` on `subject`. */
  workspaceIds(action?: string, subject?: string): string[];
  /**
   * A where() group: rows of `subject` this person may `action`, each workspace judged by the
   * person's own role there (the CASL rule's SQL form, `accessibleBy`). Nothing allowed -> `1 = 0`.
   * `workspaceColumn` (default `workspace_id`) and `column` qualify the columns for a joined query.
   */
  accessible(action: string, subject: string, opts?: { workspaceColumn?: string; column?: (field: string) => string }): (qb: Knex.QueryBuilder) => void;
}

/**
 * A row of a provider's query. The query selects, under exactly these names: `id` (unique within
 * the provider), `workspace_id`, `title`, `due_at` (epoch ms or null), `since` (epoch ms: when it
 * started waiting). Any other column it selects reaches `href(row)`.
 */
export interface WaitingRow {
  id: string;
  workspace_id: string;
  title: string;
  due_at: number | null;
  since: number;
  [column: string]: unknown;
}

export interface WaitingProvider {
  /** `<plugin>.<thing>`, e.g. `signatures.sign`. */
  id: string;
  /** What the item is, shown beside it: `Approval`, `Signature`, `Invoice`. */
  kind: string;
  /** The action the person takes, the item's button: `Approve`, `Sign`, `Pay`. */
  verb: string;
  /**
   * The items waiting on `person`, as one query (no limit, no order: the kernel adds both, and
   * filters again to the person's workspaces). Read only the person's workspaces
   * (`person.workspaceIds(...)`) and only what is theirs to act on, and let `person.accessible`
   * apply the CASL rules of their role in each.
   */
  query(db: Db | Trx, person: WaitingPerson): Knex.QueryBuilder;
  /** Where the item is acted on, under its workspace: `/approvals/r/<id>` (the kernel prefixes `/w/<slug>`). */
  href(row: WaitingRow): string;
  /**
   * This plugin's events after which someone's items may have changed, each with the people it
   * concerns (run after commit). Their header counts are recomputed and sent live.
   */
  changes?: Record<string, (db: Db, payload: any) => Promise<string[]> | string[]>;
}

/** One item, ready to show. */
export interface WaitingItem {
  provider: string;
  id: string;
  workspace: { id: string; slug: string; name: string };
  kind: string;
  verb: string;
  title: string;
  /** An absolute path on this site (`/w/<slug>/...`). */
  href: string;
  dueAt: number | null;
  overdue: boolean;
  since: number;
}

export interface WaitingList {
  items: WaitingItem[];
  /** Every item waiting on the person in the workspaces asked about. */
  total: number;
  overdue: number;
}

/** How long a stored header count is trusted without a change event (memberships, archived workspaces...). */
export const COUNT_TTL_MS = 15 * 60_000;
/** The live event carrying a person's new count. */
export const WAITING_EVENT = 'waiting';

const ROW_ID = /^[a-z][a-z0-9-]*\.[a-z][a-zA-Z0-9]*$/;

export class WaitingRegistry {
  private readonly providers: Array<WaitingProvider & { owner: string }> = [];
  /** Counts computed during one request (the card and the header share them). */
  private readonly perRequest = new WeakMap<object, Promise<number>>();

  constructor(
    private readonly db: Db,
    private readonly events: EventBus,
    private readonly permissions: PermissionRegistry,
    private readonly live: LiveService,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    // A membership gained or lost changes what is waiting on that person.
    for (const name of ['core.membership.created', 'core.membership.removed', 'core.user.enabled'] as const) {
      events.subscribe(name, (p) => (this.providers.length ? this.refresh([(p as { userId: string }).userId]) : undefined));
    }
  }

  /** Declare a provider (from a plugin's `register`). An id registered twice throws. */
  register(owner: string, p: WaitingProvider): void {
    if (!ROW_ID.test(p.id) || !p.id.startsWith(`${owner}.`)) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: waiting provider "${p.id}" must be "${owner}.<thing>"`);
    const prev = this.providers.find((x) => x.id === p.id);
    if (prev) throw new AtriumError('ATR_PLUGIN_INVALID', `waiting provider "${p.id}" registered by ${prev.owner} and ${owner}`);
    if (!p.kind || p.kind.length > 40 || !p.verb || p.verb.length > 20) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: waiting provider "${p.id}" needs a kind (<= 40 characters) and a verb (<= 20)`);
    for (const [name, who] of Object.entries(p.changes ?? {})) {
      if (!name.startsWith(`${owner}.`)) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: waiting provider "${p.id}" listens to "${name}", which is not its own event`);
      this.events.subscribe(name, async (payload) => this.refresh(await who(this.db, payload)));
    }
    this.providers.push({ ...p, owner });
  }

  /** Whether any plugin contributes items (no provider: no card, no page, no header count). */
  get enabled(): boolean {
    return this.providers.length > 0;
  }

  /** The registered providers (for `atrium plugins` and tests). */
  providerList(): Array<{ id: string; owner: string; kind: string; verb: string }> {
    return this.providers.map((p) => ({ id: p.id, owner: p.owner, kind: p.kind, verb: p.verb }));
  }

  // ---- the person

  /** A person over the given workspaces (no query: the caller knows them, e.g. the request's workspace). */
  personOver(user: { id: string; firmRole: FirmRole | null }, workspaces: Array<{ id: string; slug: string; name: string; role: string | null }>): WaitingPerson {
    const ws = workspaces.map((w) => ({ ...w, ability: this.permissions.abilityFor(user.firmRole, w.role, { id: user.id }) }));
    return {
      userId: user.id,
      firmRole: user.firmRole,
      workspaces: ws,
      workspaceIds: (action, subject) => ws.filter((w) => !action || !subject || w.ability.can(action, subject)).map((w) => w.id),
      accessible: (action, subject, opts = {}) => {
        // Workspaces where the person holds the same role share one ability object: one branch each.
        const groups = new Map<AppAbility, string[]>();
        for (const w of ws) if (w.ability.can(action, subject)) groups.set(w.ability, [...(groups.get(w.ability) ?? []), w.id]);
        const wsCol = opts.workspaceColumn ?? 'workspace_id';
        return (qb) => {
          qb.where(function (this: Knex.QueryBuilder) {
            if (!groups.size) {
              this.whereRaw('1 = 0');
              return;
            }
            for (const [ability, ids] of groups) {
              this.orWhere(function (this: Knex.QueryBuilder) {
                this.whereIn(wsCol, ids).modify(accessibleBy(ability, action, subject, opts.column));
              });
            }
          });
        };
      },
    };
  }

  /** A person over all the workspaces they belong to (one query: their live memberships). */
  async personFor(db: Db | Trx, user: { id: string; firmRole: FirmRole | null }): Promise<WaitingPerson> {
    const rows = (await db('memberships as m')
      .join('workspaces as w', 'w.id', 'm.workspace_id')
      .where('m.user_id', user.id)
      .andWhere('w.archived', false)
      .orderBy('w.name')
      .select('w.id', 'w.slug', 'w.name', 'm.role')) as Array<{ id: string; slug: string; name: string; role: string }>;
    return this.personOver(user, rows.map((r) => ({ id: String(r.id), slug: String(r.slug), name: String(r.name), role: String(r.role) })));
  }

  // ---- reading

  private wrapped(db: Db | Trx, p: WaitingProvider, person: WaitingPerson): Knex.QueryBuilder {
    // The provider's query as a subquery, kept to the person's workspaces whatever it did itself.
    return db.from(p.query(db, person).as('wt')).whereIn('wt.workspace_id', person.workspaceIds());
  }

  /**
   * The first `limit` items after `offset` across every provider, overdue first, then by due date,
   * then oldest first; with the totals. One query per provider (each reads at most offset + limit rows).
   */
  async list(db: Db | Trx, person: WaitingPerson, opts: { limit: number; offset?: number; now?: number }): Promise<WaitingList> {
    const now = opts.now ?? this.clock.now();
    const offset = Math.max(0, opts.offset ?? 0);
    const take = Math.max(0, opts.limit) + offset;
    if (!person.workspaces.length || !this.providers.length) return { items: [], total: 0, overdue: 0 };
    const bySlug = new Map(person.workspaces.map((w) => [w.id, { id: w.id, slug: w.slug, name: w.name }]));
    const parts = await Promise.all(
      this.providers.map(async (p) => {
        if (take === 0) {
          const r = (await this.wrapped(db, p, person)
            .select(db.raw('count(*) as waiting_total'), db.raw('coalesce(sum(case when wt.due_at is not null and wt.due_at < ? then 1 else 0 end), 0) as waiting_overdue', [now]))
            .first()) as Record<string, unknown> | undefined;
          return { p, rows: [] as Array<Record<string, unknown>>, total: Number(r?.waiting_total ?? 0), overdue: Number(r?.waiting_overdue ?? 0) };
        }
        const rows = (await this.wrapped(db, p, person)
          .select('wt.*', db.raw('count(*) over () as waiting_total'), db.raw('sum(case when wt.due_at is not null and wt.due_at < ? then 1 else 0 end) over () as waiting_overdue', [now]))
          .orderByRaw('case when wt.due_at is null then 1 else 0 end')
          .orderBy('wt.due_at')
          .orderBy('wt.since')
          .orderBy('wt.id')
          .limit(take)) as Array<Record<string, unknown>>;
        return { p, rows, total: rows.length ? Number(rows[0]!.waiting_total) : 0, overdue: rows.length ? Number(rows[0]!.waiting_overdue ?? 0) : 0 };
      }),
    );
    const items: WaitingItem[] = [];
    for (const { p, rows } of parts) {
      for (const raw of rows) {
        const row: WaitingRow = { ...raw, id: String(raw.id), workspace_id: String(raw.workspace_id), title: String(raw.title ?? ''), due_at: raw.due_at == null ? null : Number(raw.due_at), since: Number(raw.since ?? 0) };
        const ws = bySlug.get(row.workspace_id);
        const path = p.href(row);
        // Never another workspace's row, never a link off this site.
        if (!ws || typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//')) continue;
        items.push({ provider: p.id, id: row.id, workspace: ws, kind: p.kind, verb: p.verb, title: row.title, href: `/w/${ws.slug}${path}`, dueAt: row.due_at, overdue: row.due_at !== null && row.due_at < now, since: row.since });
      }
    }
    items.sort(compareItems);
    return { items: items.slice(offset, take), total: parts.reduce((n, x) => n + x.total, 0), overdue: parts.reduce((n, x) => n + x.overdue, 0) };
  }

  /** How many items wait on the person (one query per provider). */
  async count(db: Db | Trx, person: WaitingPerson): Promise<number> {
    return (await this.list(db, person, { limit: 0 })).total;
  }

  // ---- the header's count

  /**
   * Recount and store each person's count, and send it to their open pages when it changed. Each
   * recount holds the person's `waiting_counts` row (FOR UPDATE on PostgreSQL; SQLite writes one
   * at a time), so two recounts racing in two processes store the later truth, never an older one.
   */
  async refresh(userIds: Iterable<string>): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (!this.providers.length) return out;
    for (const userId of new Set(userIds)) {
      if (!userId) continue;
      try {
        const done = await transaction(this.db, async (trx) => {
          const user = (await trx('users').where({ id: userId }).first('id', 'firm_role', 'disabled')) as { id: string; firm_role: FirmRole | null; disabled: unknown } | undefined;
          if (!user) return undefined;
          await trx('waiting_counts').insert({ user_id: userId, count: 0, computed_at: 0 }).onConflict('user_id').ignore();
          const lock = trx('waiting_counts').where({ user_id: userId }).first('count');
          const prev = (await (isPostgresClient(trx) ? lock.forUpdate() : lock)) as { count: number | string } | undefined;
          const disabled = user.disabled === true || user.disabled === 1 || user.disabled === '1';
          const n = disabled ? 0 : await this.count(trx, await this.personFor(trx, { id: userId, firmRole: user.firm_role ?? null }));
          await trx('waiting_counts').where({ user_id: userId }).update({ count: n, computed_at: this.clock.now() });
          return { n, changed: Number(prev?.count ?? -1) !== n };
        });
        if (!done) continue;
        out.set(userId, done.n);
        if (done.changed) await this.live.publish(userId, WAITING_EVENT, String(done.n)).catch((err) => this.logger.warn({ err }, 'live waiting count failed'));
      } catch (err) {
        this.logger.warn({ err, userId }, 'waiting count failed');
      }
    }
    return out;
  }

  /**
   * A plugin that changed what waits on these people without one of its declared `changes` events
   * says so here; given a transaction, the recount runs after it commits.
   */
  changed(db: Db | Trx, userIds: string[]): void {
    afterCommit(db, () => void this.refresh(userIds));
  }

  /**
   * The header's count for a request: the stored count read with the session when it is fresh,
   * else recounted now (and stored). Memoised per request, so the card and the header share it.
   */
  headerCount(key: object, user: { id: string }, stored: { count: number | null; at: number | null } | undefined): Promise<number> {
    let p = this.perRequest.get(key);
    if (!p) {
      const fresh = stored && stored.count !== null && stored.at !== null && this.clock.now() - stored.at < COUNT_TTL_MS && stored.at <= this.clock.now();
      p = fresh ? Promise.resolve(stored.count!) : this.refresh([user.id]).then((m) => m.get(user.id) ?? 0);
      this.perRequest.set(key, p);
    }
    return p;
  }

  /** Replace the count memoised for this request (a page that has just recounted). */
  remember(key: object, n: number): void {
    this.perRequest.set(key, Promise.resolve(n));
  }
}

/** Overdue first (the earliest due dates are the overdue ones), then by due date, undated last, then oldest first. */
export function compareItems(a: WaitingItem, b: WaitingItem): number {
  if ((a.dueAt === null) !== (b.dueAt === null)) return a.dueAt === null ? 1 : -1;
  if (a.dueAt !== null && b.dueAt !== null && a.dueAt !== b.dueAt) return a.dueAt - b.dueAt;
  return a.since - b.since || a.provider.localeCompare(b.provider) || a.id.localeCompare(b.id);
}
