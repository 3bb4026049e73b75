// Proof of service: the kernel's contract through which plugins contribute dated evidence of the
// work done for a client (a file delivered and who downloaded it, an approval decided, a document
// signed; later tickets answered, hours logged). A plugin registers a provider in `register`;
// whoever needs the evidence of a workspace for a period (the invoices plugin's period pack, an
// evidence export) asks the registry, which streams every provider's items merged in time order.
// No plugin imports another.
//
//   evidence.register('files', {
//     id: 'files.deliveries', label: 'Files',
//     items: (db, q) => pagedByTime((after, limit) => db('files_files')...where('workspace_id', q.workspaceId)
//       .where('delivered_at', '>=', q.from).where('delivered_at', '<', q.to).modify(afterKey('delivered_at', 'id', after))
//       .orderBy(...).limit(limit), (row) => ({ workspaceId, at, kind: 'Delivered', title, detail, who })),
//   });
//   for await (const item of evidence.items(db, { workspaceId, from, to, viewer })) ...
//
// The evidence is a client's document: a provider contributes only what the workspace's client
// people may know, whoever asks (a staff member downloading the pack gets the same items). The
// registry keeps each item's allow-listed fields only, as plain single-line text, and drops any
// item of another workspace or outside the period, whatever a provider returned.
// Costs: a provider streams (keyset pages on an indexed time column, `pagedByTime`), so a year of
// evidence is never held in memory; the registry merges the providers with one item of each in hand.
import type { Knex } from 'knex';
import type { Db, Trx } from './db/index.ts';
import { AtriumError } from './errors.ts';
import type { AppAbility } from './permissions.ts';
import type { FirmRole } from './plugins/define.ts';

/** One dated piece of evidence, as a provider yields it. Every text field is shown as plain text. */
export interface EvidenceItem {
  /** The workspace it belongs to: an item of another workspace is dropped by the registry. */
  workspaceId: string;
  /** When it happened (epoch ms, UTC). */
  at: number;
  /** What happened, in a word or two: `Delivered`, `Downloaded`, `Approved`, `Signed`. */
  kind: string;
  /** What it happened to: a file's name, a request's title, a document's title. */
  title: string;
  /** A short line of detail (`Version 3`, `Changes requested on version 2`); '' when none. */
  detail: string;
  /** Who did it (a person's name), or '' when nobody in particular (an agreed rule). */
  who: string;
}

/** An item as the registry hands it out: the allow-listed fields and the provider's label. */
export interface Evidence {
  at: number;
  /** The provider's label: `Files`, `Approvals`, `Signatures`. */
  source: string;
  kind: string;
  title: string;
  detail: string;
  who: string;
}

/** Who asks: the person downloading the evidence, with their ability in that workspace. */
export interface EvidenceViewer {
  userId: string;
  firmRole: FirmRole | null;
  ability: AppAbility;
}

export interface EvidenceQuery {
  workspaceId: string;
  /** The period, epoch ms: `from` included, `to` excluded. */
  from: number;
  to: number;
  viewer: EvidenceViewer;
}

export interface EvidenceProvider {
  /** `<plugin>.<thing>`, e.g. `files.deliveries`. */
  id: string;
  /** The section its items are listed under: `Files`. */
  label: string;
  /**
   * The items of `q.workspaceId` with `q.from <= at < q.to`, in ascending `at` order (the registry
   * merges providers on it). Stream them: page on an indexed time column (`pagedByTime`), never
   * load a whole period at once. Only what the workspace's client people may know.
   */
  items(db: Db | Trx, q: EvidenceQuery): AsyncIterable<EvidenceItem>;
}

const LIMITS = { kind: 40, title: 200, detail: 300, who: 120 } as const;

/** Plain single-line text: no control or bidi characters, whitespace collapsed, at most `max` characters. */
function plain(v: unknown, max: number): string {
  const s = String(v ?? '')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = [...s];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : s;
}

export class EvidenceRegistry {
  private readonly providers = new Map<string, EvidenceProvider & { owner: string }>();

  /** Declare a provider (from a plugin's `register`). An id registered twice throws. */
  register(owner: string, p: EvidenceProvider): void {
    if (!/^[a-z][a-z0-9-]*\.[a-z][a-zA-Z0-9-]*$/.test(p.id)) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: evidence provider "${p.id}" must be <plugin>.<thing>`);
    if (!p.id.startsWith(`${owner}.`)) throw new AtriumError('ATR_PLUGIN_INVALID', `${owner}: evidence provider "${p.id}" must start with "${owner}."`);
    const prev = this.providers.get(p.id);
    if (prev) throw new AtriumError('ATR_PLUGIN_INVALID', `evidence provider "${p.id}" registered by ${prev.owner} and ${owner}`);
    this.providers.set(p.id, { ...p, owner });
  }

  /** The registered providers, in registration (dependency) order. */
  list(): Array<{ id: string; label: string; owner: string }> {
    return [...this.providers.values()].map((p) => ({ id: p.id, label: p.label, owner: p.owner }));
  }

  /**
   * Every provider's items for `q`, merged in time order (ties: registration order). Each item is
   * reduced to its allow-listed fields as plain text; an item of another workspace, outside the
   * period or without a valid time is dropped.
   */
  items(db: Db | Trx, q: EvidenceQuery): AsyncGenerator<Evidence> {
    const streams = [...this.providers.values()].map((p) => this.checked(p, db, q));
    return mergeSorted(streams, (a, b) => a.at - b.at);
  }

  private async *checked(p: EvidenceProvider, db: Db | Trx, q: EvidenceQuery): AsyncGenerator<Evidence> {
    for await (const it of p.items(db, q)) {
      const at = Number(it.at);
      if (it.workspaceId !== q.workspaceId || !Number.isFinite(at) || at < q.from || at >= q.to) continue;
      // A provider out of order keeps its items' true times: only the merge's order suffers.
      yield { at, source: plain(p.label, 60), kind: plain(it.kind, LIMITS.kind), title: plain(it.title, LIMITS.title), detail: plain(it.detail, LIMITS.detail), who: plain(it.who, LIMITS.who) };
    }
  }
}

/**
 * Merge sorted async streams into one sorted stream, holding one item of each. Ties keep the
 * order of `streams`. Every stream is closed when the consumer stops early.
 */
export async function* mergeSorted<T>(streams: Array<AsyncIterable<T>>, compare: (a: T, b: T) => number): AsyncGenerator<T> {
  const its = streams.map((s) => s[Symbol.asyncIterator]());
  const heads: Array<{ value: T } | null> = await Promise.all(
    its.map(async (it) => {
      const r = await it.next();
      return r.done ? null : { value: r.value };
    }),
  );
  try {
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (h && (best < 0 || compare(h.value, heads[best]!.value) < 0)) best = i;
      }
      if (best < 0) return;
      yield heads[best]!.value;
      const r = await its[best]!.next();
      heads[best] = r.done ? null : { value: r.value };
    }
  } finally {
    await Promise.all(its.map((it, i) => (heads[i] ? it.return?.() : undefined)));
  }
}

/** The last row of a page, where the next page starts (keyset pagination on time, then id). */
export interface TimeKey {
  at: number;
  id: string;
}

/**
 * A where() group for keyset pagination: rows strictly after `after` on (`atColumn`, `idColumn`).
 * Nothing (the first page) when `after` is null. Order the query by the same two columns.
 */
export function afterKey(atColumn: string, idColumn: string, after: TimeKey | null): (qb: Knex.QueryBuilder) => void {
  return (qb) => {
    if (!after) return;
    qb.where((w) => w.where(atColumn, '>', after.at).orWhere((x) => x.where(atColumn, '=', after.at).andWhere(idColumn, '>', after.id)));
  };
}

/**
 * Stream rows page by page: `fetch(after, limit)` returns the next page (ordered by time, then id;
 * use `afterKey`), `key(row)` where a row sits, `map(row)` the item. Stops at a short page.
 */
export async function* pagedByTime<R, I>(fetch: (after: TimeKey | null, limit: number) => Promise<R[]>, key: (row: R) => TimeKey, map: (row: R) => I, pageSize = 500): AsyncGenerator<I> {
  let after: TimeKey | null = null;
  for (;;) {
    const rows = await fetch(after, pageSize);
    for (const r of rows) yield map(r);
    if (rows.length < pageSize) return;
    after = key(rows[rows.length - 1]!);
  }
}
