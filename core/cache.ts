// The kernel's read cache: values loaded from the database (a session with its person, workspace
// and role; a person's workspace list; a home card's data), dropped the moment a write touches
// what they were read from. Correctness before speed (issue 17):
//
// - Invalidation does not depend on write sites remembering. `watchWrites` listens to every query
//   knex runs on the database and turns each write into tags. A write to a watched table drops the
//   tags of the keys it pins down (`where user_id = ?`, the rows of an insert: `user:<id>`), or,
//   when it pins none, `t:<table>`; every write also drops `k:<table>` ("some row changed", for
//   entries that read a table as a whole, such as a card's list of the workspace's members). A
//   write it cannot read (raw SQL it does not recognise, schema changes) drops everything. An
//   entry carries the key tags of every row it read plus `t:` of each table (or `k:` for whole
//   tables), so any write to one of its rows reaches it.
// - A write inside a transaction marks its tags pending until the transaction ends: an entry with
//   a pending tag is neither served nor stored (another connection still reads the old rows), and
//   the tags are dropped again once it has committed or rolled back.
// - A load that a write overtook is not stored: every entry remembers when its load began, and a
//   tag dropped after that refuses it.
// - Other processes: on PostgreSQL, triggers on every watched table NOTIFY the rows' tags at
//   commit (migration 20261205400000; boot adds workspace-owned tables), whatever wrote them
//   (another server, a CLI command, psql), and the LISTEN connection (core/live.ts) drops them
//   here; while that connection is down the cache is bypassed, and it starts empty again when it
//   is back. Before a request reads the cache, one round trip on that connection makes sure every
//   notification of a commit made before the request arrived has been handled (`sync`). On SQLite,
//   another process's commit changes the writing connection's `PRAGMA data_version`, read by
//   `sync`, which then drops everything.
//
// Nothing is cached across workspaces by construction: every key names the workspace, the person
// and the roles it was read for, and every value is what the kernel would have read for that key.
import type { Db } from './db/index.ts';

/** How a watched table's rows are told apart: a column whose value names a tag (`prefix:value`). */
export interface WatchedTable {
  table: string;
  keys: Array<{ column: string; prefix: string }>;
}

/** Kernel tables whose writes drop cached sessions, people and workspace lists. */
export const KERNEL_WATCHED: WatchedTable[] = [
  { table: 'sessions', keys: [{ column: 'id_hash', prefix: 'session' }, { column: 'user_id', prefix: 'user' }] },
  { table: 'users', keys: [{ column: 'id', prefix: 'user' }] },
  { table: 'memberships', keys: [{ column: 'user_id', prefix: 'user' }] },
  { table: 'notifications', keys: [{ column: 'user_id', prefix: 'user' }] },
  { table: 'waiting_counts', keys: [{ column: 'user_id', prefix: 'user' }] },
  { table: 'workspaces', keys: [] },
  { table: 'roles', keys: [] },
];

const MAX_ENTRIES = 20_000;
const MAX_RECENT = 50_000;

interface Entry {
  value: unknown;
  tags: string[];
  /** performance.now() after which the entry is not served (values that depend on the time). */
  expires: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  bypassed: number;
  invalidations: number;
  flushes: number;
}

export class DbCache {
  /** Off by configuration (`database.cache: false`): every read goes to the database. */
  enabled = true;
  /** Whether other processes' writes reach this cache (PostgreSQL: the LISTEN connection is up). */
  private linked: boolean;
  private seq = 0;
  /** Loads begun before this were overtaken by a flush. */
  private floor = 0;
  private readonly entries = new Map<string, Entry>();
  private readonly byTag = new Map<string, Set<string>>();
  /** When each recently dropped tag was dropped (loads in flight compare against it). */
  private readonly recent = new Map<string, number>();
  /** Tags written by transactions still open, with how many transactions hold each. */
  private readonly pending = new Map<string, number>();
  private inflight = 0;
  private readonly watched = new Map<string, WatchedTable>();
  /** SQLite: the writing connection's last `PRAGMA data_version`. */
  private dataVersion: number | undefined;
  readonly stats: CacheStats = { hits: 0, misses: 0, bypassed: 0, invalidations: 0, flushes: 0 };

  constructor(
    /** PostgreSQL: other processes write too, and reach this cache only through LISTEN. */
    readonly distributed: boolean,
  ) {
    this.linked = !distributed;
    for (const w of KERNEL_WATCHED) this.watch(w);
  }

  /** Watch a table (kernel tables are watched from the start; plugins add theirs for card data). */
  watch(w: WatchedTable): void {
    const prev = this.watched.get(w.table);
    const keys = [...(prev?.keys ?? [])];
    for (const k of w.keys) if (!keys.some((p) => p.column === k.column && p.prefix === k.prefix)) keys.push(k);
    this.watched.set(w.table, { table: w.table, keys });
  }

  /** The tables cards may read (set by `watchCardTables` at boot). */
  cardTables: { owned: string[]; plain: string[] } = { owned: [], plain: [] };

  /**
   * What a home card's data was read from: for a workspace's card, that workspace's rows of every
   * workspace-owned table and any write to the extra tables cards declared, to memberships, people,
   * workspaces and roles, and the person's own kernel rows; for a staff card (across workspaces),
   * any write to any of them.
   */
  cardTags(workspaceId: string | null, userId: string): string[] {
    const { owned, plain } = this.cardTables;
    // The person's own rows (their stored "waiting on you" count, read by the waiting card).
    const tags = [`user:${userId}`, 'k:memberships', 'k:users', 't:workspaces', 'k:workspaces', 't:roles', 'k:roles'];
    for (const t of plain) tags.push(`t:${t}`, `k:${t}`);
    if (workspaceId) {
      tags.push(`ws:${workspaceId}`);
      for (const t of owned) tags.push(`t:${t}`);
    } else {
      for (const t of owned) tags.push(`k:${t}`);
    }
    return tags;
  }

  get usable(): boolean {
    return this.enabled && this.linked;
  }

  /** PostgreSQL: the LISTEN connection came up (start empty: what was missed is unknown) or went down. */
  setLinked(up: boolean): void {
    this.flush();
    this.linked = up;
  }

  /**
   * Before a request reads the cache: make sure every write committed before the request arrived
   * has reached it. PostgreSQL: one round trip on the LISTEN connection (the server sends a
   * listener its pending notifications before answering it); SQLite: the writing connection's
   * `PRAGMA data_version` (another process committed: drop everything). Concurrent requests
   * share one check, always one begun after they arrived. False: do not use the cache for this
   * request (the check failed).
   */
  async sync(): Promise<boolean> {
    if (!this.usable) return false;
    if (!this.check) return true;
    try {
      await this.check();
      return this.usable;
    } catch {
      this.flush();
      return false;
    }
  }

  private check: (() => Promise<void>) | undefined;

  /** PostgreSQL: the round trip on the LISTEN connection that `sync` waits for (core/live.ts). */
  set barrier(fn: (() => Promise<void>) | undefined) {
    this.check = fn && coalesced(fn);
  }

  /** SQLite: how to read the writing connection's `PRAGMA data_version` (core/db). */
  set dataVersionReader(read: () => Promise<number>) {
    this.check = coalesced(async () => {
      const v = await read();
      if (v !== this.dataVersion) this.flush(); // the first look too: what came before is unknown
      this.dataVersion = v;
    });
  }

  /**
   * The value under `key`, or `load()`'s, kept under `key` unless one of `tags` was dropped while
   * it loaded or is held by an open transaction. `tags` may be worked out from the value (a
   * session's person is known once it is read). The value is shared by every later reader: treat
   * it as read-only.
   */
  async read<T>(key: string, tags: string[] | ((value: T) => string[]), load: () => Promise<T>, opts: { maxAgeMs?: number } = {}): Promise<T> {
    if (!this.usable) {
      this.stats.bypassed++;
      return load();
    }
    const hit = this.entries.get(key);
    if (hit && hit.expires > performance.now()) {
      this.stats.hits++;
      return hit.value as T;
    }
    this.stats.misses++;
    const began = this.seq;
    this.inflight++;
    try {
      const value = await load();
      // Nothing found is not kept: made-up keys (a forged cookie) must not crowd out real entries.
      if (value === undefined || value === null) return value;
      const list = typeof tags === 'function' ? tags(value) : tags;
      if (this.storable(list, began)) this.put(key, value, list, opts.maxAgeMs);
      return value;
    } finally {
      if (--this.inflight === 0) this.recent.clear();
    }
  }

  private delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    for (const t of e.tags) this.byTag.get(t)?.delete(key);
  }

  /** Drop every entry carrying one of `tags`. */
  invalidate(tags: Iterable<string>): void {
    for (const tag of tags) {
      this.stats.invalidations++;
      this.recent.set(tag, ++this.seq);
      const keys = this.byTag.get(tag);
      if (!keys) continue;
      this.byTag.delete(tag);
      for (const k of keys) this.delete(k);
    }
    if (this.recent.size > MAX_RECENT) {
      this.recent.clear();
      this.floor = ++this.seq;
    }
  }

  /** Drop everything, and refuse every load begun before now. */
  flush(): void {
    this.stats.flushes++;
    this.entries.clear();
    this.byTag.clear();
    this.recent.clear();
    this.floor = ++this.seq;
  }

  /** A transaction wrote `tags`: hold them until it ends. */
  hold(tags: Iterable<string>): void {
    for (const t of tags) this.pending.set(t, (this.pending.get(t) ?? 0) + 1);
  }

  /** The transaction that held `tags` ended: release them and drop them once more. */
  release(tags: Iterable<string>): void {
    const list = [...tags];
    for (const t of list) {
      const n = (this.pending.get(t) ?? 1) - 1;
      if (n <= 0) this.pending.delete(t);
      else this.pending.set(t, n);
    }
    this.invalidate(list);
  }

  get size(): number {
    return this.entries.size;
  }

  private storable(tags: string[], began: number): boolean {
    if (!this.usable || began < this.floor) return false;
    for (const t of tags) {
      if (this.pending.has(t)) return false;
      if ((this.recent.get(t) ?? 0) > began) return false;
    }
    return true;
  }

  private put(key: string, value: unknown, tags: string[], maxAgeMs = Infinity): void {
    this.delete(key);
    if (this.entries.size >= MAX_ENTRIES) {
      // Oldest first (a Map keeps insertion order).
      let n = Math.ceil(MAX_ENTRIES / 10);
      for (const k of this.entries.keys()) {
        if (n-- <= 0) break;
        this.delete(k);
      }
    }
    this.entries.set(key, { value, tags, expires: performance.now() + maxAgeMs });
    for (const t of tags) {
      let set = this.byTag.get(t);
      if (!set) this.byTag.set(t, (set = new Set()));
      set.add(key);
    }
  }

  // ---- turning a write into tags

  /**
   * The tags a finished write drops, or 'all' when it cannot be read. `builder` is what knex ran
   * (a query builder, a raw query or a schema builder).
   */
  tagsOfWrite(builder: unknown): string[] | 'all' | null {
    const b = builder as KnexBuilderShape;
    if (typeof b?.sql === 'string' && b._method === undefined) return this.tagsOfRaw(b.sql);
    const method = b?._method;
    if (method === undefined) return 'all'; // a schema builder: migrations change what anything means
    // A write inside a WITH (`with e as (insert into ...) update ...`, one round trip for two
    // writes): its tags as if it ran alone, with the outer statement's.
    const inner = writesInWith(b);
    if (inner.length) {
      const out = new Set<string>();
      for (const w of [...inner, ...(WRITE_METHODS.has(method) ? [b] : [])]) {
        const t = this.tagsOfWrite(w === b ? { ...b, _statements: b._statements?.filter((st) => st.grouping !== 'with') } : w);
        if (t === 'all') return 'all';
        for (const x of t ?? []) out.add(x);
      }
      return out.size ? [...out] : null;
    }
    if (!WRITE_METHODS.has(method)) return null;
    const table = bareName(String(b._single?.table ?? ''));
    const w = this.watched.get(table);
    if (!w) return null;
    const whole = [`t:${table}`, `k:${table}`];
    if (!w.keys.length || method === 'truncate') return whole;
    const out = new Set<string>();
    if (method === 'insert') {
      const rows = Array.isArray(b._single?.insert) ? b._single.insert : [b._single?.insert];
      const conflict = (b._single?.onConflict as unknown[] | undefined)?.map((c) => bareName(String(c)));
      // An upsert may update a row that differs from the one given in anything but its conflict target.
      const keys = conflict ? w.keys.filter((k) => conflict.includes(k.column)) : w.keys;
      for (const row of rows) {
        const r = row as Record<string, unknown> | undefined;
        const pinned = r ? keys.filter((k) => isKeyValue(r[k.column])) : [];
        if (!pinned.length) return whole;
        for (const k of pinned) out.add(`${k.prefix}:${String(r![k.column])}`);
      }
    } else {
      // update / delete: every key pinned by an AND-ed `column = value` (or `column in (...)`).
      const wheres = (b._statements ?? []).filter((s) => s.grouping === 'where');
      if (wheres.some((s) => s.bool === 'or')) return whole;
      for (const k of w.keys) {
        for (const s of wheres) {
          if (s.not || bareName(String(s.column ?? '')) !== k.column) continue;
          if (s.type === 'whereBasic' && s.operator === '=' && isKeyValue(s.value)) {
            out.add(`${k.prefix}:${String(s.value)}`);
            break;
          }
          if (s.type === 'whereIn' && Array.isArray(s.value) && s.value.length && s.value.every(isKeyValue)) {
            for (const v of s.value) out.add(`${k.prefix}:${String(v)}`);
            break;
          }
        }
      }
      if (!out.size) return whole;
    }
    out.add(`k:${table}`);
    return [...out];
  }

  private tagsOfRaw(sql: string): string[] | 'all' | null {
    const s = sql.trimStart().toLowerCase();
    if (/^(select|pragma|explain|show|listen|unlisten|begin|commit|rollback|savepoint|release|set )/.test(s) && !/^select\s+setval/.test(s)) return null;
    const m = /^(?:insert\s+(?:or\s+\w+\s+)?into|update|delete\s+from)\s+["`]?(?:\w+["`]?\.["`]?)?(\w+)/.exec(s);
    if (m) return this.watched.has(m[1]!) ? [`t:${m[1]}`, `k:${m[1]}`] : null;
    return 'all';
  }
}

/**
 * `fn` shared by concurrent callers, with one promise: each caller's result comes from a run that
 * began after it called (a run already under way may have begun too early, so later callers wait
 * for the next one, which all of them share).
 */
function coalesced(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  const start = () => {
    const p = fn().finally(() => {
      if (running === p) running = undefined;
    });
    running = p;
    return p;
  };
  return () => {
    if (!running) return start();
    next ??= running
      .catch(() => {})
      .then(() => {
        next = undefined;
        return start();
      });
    return next;
  };
}

const WRITE_METHODS = new Set(['insert', 'update', 'del', 'delete', 'truncate', 'upsert']);

interface KnexBuilderShape {
  sql?: string;
  _method?: string;
  _single?: { table?: unknown; insert?: unknown; onConflict?: unknown };
  _statements?: Array<{ grouping?: string; type?: string; column?: unknown; operator?: string; value?: unknown; bool?: string; not?: boolean }>;
  client?: { transacting?: boolean };
}

/** The write builders in a statement's WITH clauses (a data-modifying CTE). */
function writesInWith(b: KnexBuilderShape | undefined): KnexBuilderShape[] {
  const out: KnexBuilderShape[] = [];
  for (const st of b?._statements ?? []) {
    const v = st.grouping === 'with' ? (st.value as KnexBuilderShape | undefined) : undefined;
    if (v && typeof v === 'object' && typeof v._method === 'string' && WRITE_METHODS.has(v._method)) out.push(v);
  }
  return out;
}

function bareName(name: string): string {
  const parts = name.split(/\s+as\s+/i)[0]!.split('.');
  return parts[parts.length - 1]!.replace(/["`]/g, '');
}

function isKeyValue(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'number';
}

// ---- one cache per database, fed by its queries

const caches = new WeakMap<object, DbCache>();

/** The cache of `db` (made by `createDb`); a transaction shares its database's. */
export function cacheOf(db: Db): DbCache | undefined {
  return caches.get((db as unknown as { client: { config: object } }).client.config);
}

interface KnexClientShape {
  config: object;
  transacting?: boolean;
  on(event: string, fn: (...args: unknown[]) => void): void;
  transaction: (...args: unknown[]) => { then(a: () => void, b: () => void): unknown; trxClient?: object };
}

/**
 * Feed `cache` from `db`'s queries: every finished write drops its tags (held until the end of its
 * transaction). Transactions opened on `db` (core/db's `transaction()` or `db.transaction()`) are
 * followed to their end.
 */
export function watchWrites(db: Db, cache: DbCache): void {
  const client = db.client as unknown as KnexClientShape;
  caches.set(client.config, cache);
  const held = new Map<object, Set<string>>();
  client.on('query-response', (res: unknown, _obj: unknown, builder: unknown) => {
    // Only a query builder's answer is read: knex answers raw SQL on SQLite with its rows, an
    // empty array for any write or DDL. The count is the outer statement's: a write inside its
    // WITH may have changed rows anyway.
    const built = (builder as KnexBuilderShape | undefined)?._method !== undefined;
    if (built && wroteNothing(res) && !writesInWith(builder as KnexBuilderShape).length) return;
    const tags = cache.tagsOfWrite(builder);
    if (!tags) return;
    const b = builder as KnexBuilderShape;
    if (tags === 'all') {
      cache.flush();
      return;
    }
    cache.invalidate(tags);
    const trxClient = b.client;
    if (trxClient?.transacting) {
      let set = held.get(trxClient);
      if (!set) held.set(trxClient, (set = new Set()));
      const fresh = tags.filter((t) => !set!.has(t));
      for (const t of fresh) set.add(t);
      cache.hold(fresh);
    }
  });
  // A failed write changed nothing; a failed statement in a transaction is rolled back with it.
  const open = client.transaction;
  client.transaction = function (this: unknown, ...args: unknown[]) {
    const trx = open.apply(this, args);
    const end = () => {
      const trxClient = trx.trxClient;
      const tags = trxClient && held.get(trxClient);
      if (!tags) return;
      held.delete(trxClient);
      cache.release(tags);
    };
    trx.then(end, end);
    return trx;
  };
}

/**
 * Whether a finished statement's response says it changed no row: an UPDATE or DELETE that
 * matched nothing (knex answers the count: 0), a write with RETURNING that returned no row (an
 * upsert whose `where` kept the existing row, an insert that was ignored), or a PostgreSQL result
 * with rowCount 0. Such a statement drops nothing, so a page that writes only when something moved
 * (the files visit marker) does not empty its workspace's cards on every view. SQLite's answer to
 * an INSERT without RETURNING (the last rowid) says nothing, and counts as a change.
 */
export function wroteNothing(res: unknown): boolean {
  if (res === 0) return true;
  if (Array.isArray(res)) return res.length === 0;
  return typeof res === 'object' && res !== null && (res as { rowCount?: unknown }).rowCount === 0;
}

// ---- home cards: what their data may have been read from

/**
 * Kernel tables with a `workspace_id` that no card reads. The outbox is the mail queue: the relay
 * claims its rows by id across every workspace several times a second, a write that pins no
 * workspace and so would drop every card of every workspace (under load, hardly a card stayed
 * cached). A card never shows the mail queue.
 */
const NOT_CARD_DATA = ['outbox'];

/**
 * Watch every workspace-owned table (a `workspace_id` column: keyed by workspace) and the extra
 * tables cards declare (`reads`, keyed by nothing), and on PostgreSQL give each the trigger that
 * tells the other processes (migration 20261205400000). Run by boot once every migration has run.
 */
export async function watchCardTables(db: Db, cache: DbCache, extra: string[] = []): Promise<void> {
  const pg = (db.client as { config: { client: string } }).config.client === 'pg';
  const rows = pg
    ? ((await db.raw(
        `select c.table_name as name from information_schema.columns c join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
         where c.table_schema = current_schema() and c.column_name = 'workspace_id' and t.table_type = 'BASE TABLE' order by 1`,
      )) as { rows: Array<{ name: string }> }).rows
    : ((await db.raw(`select m.name as name from sqlite_master m join pragma_table_info(m.name) p on p.name = 'workspace_id' where m.type = 'table' order by 1`)) as Array<{ name: string }>);
  const kernel = new Set(KERNEL_WATCHED.map((w) => w.table));
  const owned = rows.map((r) => r.name).filter((t) => !kernel.has(t) && !NOT_CARD_DATA.includes(t));
  const plain = extra.filter((t) => !kernel.has(t) && !owned.includes(t));
  for (const t of owned) cache.watch({ table: t, keys: [{ column: 'workspace_id', prefix: 'ws' }] });
  for (const t of plain) cache.watch({ table: t, keys: [] });
  cache.cardTables = { owned, plain };
  if (!pg) return;
  // Two processes may boot at once: one at a time (the lock ends with the transaction).
  await db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(hashtext(current_schema() || ?))', [':atrium_cache_triggers']);
    for (const t of NOT_CARD_DATA.filter((x) => rows.some((r) => r.name === x))) {
      // Put there by an earlier version that watched every workspace-owned table.
      await trx.raw(`drop trigger if exists atrium_cache_rows on "${t}"`);
      await trx.raw(`drop trigger if exists atrium_cache_truncate on "${t}"`);
    }
    for (const t of [...owned, ...plain]) {
      const args = owned.includes(t) ? "'ws=workspace_id'" : '';
      await trx.raw(`create or replace trigger atrium_cache_rows after insert or update or delete on "${t}" for each row execute function atrium_cache_notify(${args})`);
      await trx.raw(`create or replace trigger atrium_cache_truncate after truncate on "${t}" for each statement execute function atrium_cache_notify()`);
    }
  });
}
