// Reads, always through the workspace scope and the reader's rules: a thread is listed to whoever
// may read threads and, for a thread about a subject, may read that subject (the kernel's subject
// threads contract); a message to whoever may read it (clients: public ones only, the condition
// `visibility: 'public'` in the SQL form and in memory). Lists, pages, counts, search, export,
// downloads and the audit rule all start from these two functions, so they cannot disagree.
import type { Knex } from 'knex';
import { accessibleBy, canOnRow, isPostgresClient, type AppAbility, type AuditViewer, type Db, type SubjectThreads, type Trx } from '../../core/index.ts';

export type Viewer = AuditViewer;

/** Whether this reader may read internal notes (staff and the firm: the rule has no condition). */
export const seesInternal = (ability: AppAbility): boolean => canOnRow(ability, 'read', 'Message', { visibility: 'internal' });

/** The threads `v` may read, as `messaging_threads as t`. */
/** What decides which threads about subjects a reader may read (the kernel's SubjectThreads, or an adapter in an audit rule). */
export type ThreadRules = Pick<SubjectThreads, 'readable'>;

export function threadsFor(v: Viewer, threads: ThreadRules): Knex.QueryBuilder {
  const q = v.scope.table('messaging_threads', 't');
  if (!v.ability.can('read', 'Thread')) return q.whereRaw('1 = 0');
  return q.modify(threads.readable(v, 't'));
}

/** The messages `v` may read, as `messaging_messages as m` (in threads they may read). */
export function messagesFor(v: Viewer, threads: ThreadRules): Knex.QueryBuilder {
  return v.scope
    .table('messaging_messages', 'm')
    .modify(accessibleBy(v.ability, 'read', 'Message', (c) => `m.${c}`))
    .whereIn('m.thread_id', threadsFor(v, threads).select('t.id'));
}

export interface ThreadRow {
  id: string;
  workspace_id: string;
  kind: 'general' | 'topic' | 'subject';
  key: string;
  title: string;
  subject_type: string | null;
  subject_id: string | null;
  created_at: number;
  last_public_at: number | null;
  last_at: number | null;
  public_count: number;
  message_count: number;
  awaiting_firm_since: number | null;
  assignee_id: string | null;
  done_at: number | null;
}

const THREAD_COLS = ['t.id', 't.workspace_id', 't.kind', 't.key', 't.title', 't.subject_type', 't.subject_id', 't.created_at', 't.last_public_at', 't.last_at', 't.public_count', 't.message_count', 't.awaiting_firm_since', 't.assignee_id', 't.done_at'];

export function toThread(r: Record<string, unknown>): ThreadRow {
  const num = (x: unknown) => (x == null ? null : Number(x));
  return {
    id: String(r.id),
    workspace_id: String(r.workspace_id),
    kind: r.kind as ThreadRow['kind'],
    key: String(r.key),
    title: String(r.title),
    subject_type: (r.subject_type as string | null) ?? null,
    subject_id: (r.subject_id as string | null) ?? null,
    created_at: Number(r.created_at),
    last_public_at: num(r.last_public_at),
    last_at: num(r.last_at),
    public_count: Number(r.public_count ?? 0),
    message_count: Number(r.message_count ?? 0),
    awaiting_firm_since: num(r.awaiting_firm_since),
    assignee_id: (r.assignee_id as string | null) ?? null,
    done_at: num(r.done_at),
  };
}

/** One thread `v` may read, or undefined (another workspace's, a subject kept from them, unknown). */
export async function findThread(v: Viewer, threads: ThreadRules, where: { id: string } | { key: string }): Promise<ThreadRow | undefined> {
  const q = threadsFor(v, threads).select(THREAD_COLS).first();
  if ('id' in where) q.where('t.id', where.id);
  else q.where('t.key', where.key);
  const row = (await q) as Record<string, unknown> | undefined;
  return row ? toThread(row) : undefined;
}

/** Unread messages for `v` in the thread aliased `t`, with their read mark joined as `r`. */
function unreadSub(db: Db | Trx, v: Viewer): Knex.QueryBuilder {
  return db('messaging_messages as mu')
    .count('*')
    .whereRaw('mu.thread_id = t.id')
    .andWhereRaw('mu.workspace_id = t.workspace_id')
    .andWhereRaw('mu.created_at > coalesce(r.read_through, 0)')
    .whereNull('mu.deleted_at')
    .andWhere(function (this: Knex.QueryBuilder) {
      this.whereNull('mu.author_id').orWhereNot('mu.author_id', v.userId);
    })
    .modify(accessibleBy(v.ability, 'read', 'Message', (c) => `mu.${c}`));
}

export interface ListedThread extends ThreadRow {
  unread: number;
  /** When the newest message this reader may read was posted. */
  last: number | null;
  count: number;
}

/** The workspace's threads for `v`, newest activity first, with their unread counts (one query). */
export async function listThreads(db: Db | Trx, v: Viewer, threads: ThreadRules, opts: { limit: number; offset: number }): Promise<{ rows: ListedThread[]; total: number }> {
  const internal = seesInternal(v.ability);
  const lastCol = internal ? 't.last_at' : 't.last_public_at';
  const rows = (await threadsFor(v, threads)
    .leftJoin('messaging_reads as r', function (this: Knex.JoinClause) {
      this.on('r.thread_id', '=', 't.id').andOn('r.user_id', '=', db.raw('?', [v.userId]));
    })
    .select([...THREAD_COLS, unreadSub(db, v).as('unread'), db.raw('count(*) over () as total')])
    // The general thread first, then by the newest message the reader may read.
    .orderByRaw(`case when t.kind = 'general' then 0 else 1 end, coalesce(${lastCol}, t.created_at) desc, t.id desc`)
    .limit(opts.limit)
    .offset(opts.offset)) as Array<Record<string, unknown>>;
  const total = rows.length ? Number(rows[0]!.total) : 0;
  return {
    total,
    rows: rows.map((r) => {
      const t = toThread(r);
      return { ...t, unread: Number(r.unread ?? 0), last: internal ? t.last_at : t.last_public_at, count: internal ? t.message_count : t.public_count };
    }),
  };
}

/** How many messages `v` has not read in the workspace (the menu's badge). */
export async function unreadCount(db: Db | Trx, v: Viewer, threads: ThreadRules): Promise<number> {
  const row = (await messagesFor(v, threads)
    .leftJoin('messaging_reads as r', function (this: Knex.JoinClause) {
      this.on('r.thread_id', '=', 'm.thread_id').andOn('r.user_id', '=', db.raw('?', [v.userId]));
    })
    .whereNull('m.deleted_at')
    .andWhereRaw('m.created_at > coalesce(r.read_through, 0)')
    .andWhere(function (this: Knex.QueryBuilder) {
      this.whereNull('m.author_id').orWhereNot('m.author_id', v.userId);
    })
    .count({ n: '*' })
    .first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

export interface MessageRow {
  id: string;
  thread_id: string;
  author_id: string | null;
  author_name: string | null;
  author_firm: boolean;
  visibility: 'public' | 'internal';
  body: string;
  html: string;
  via: string;
  created_at: number;
  edited_at: number | null;
  deleted_at: number | null;
}

const MESSAGE_COLS = ['m.id', 'm.thread_id', 'm.author_id', 'u.name as author_name', 'u.firm_role as author_firm_role', 'm.visibility', 'm.body', 'm.html', 'm.via', 'm.created_at', 'm.edited_at', 'm.deleted_at'];

function toMessage(r: Record<string, unknown>): MessageRow {
  return {
    id: String(r.id),
    thread_id: String(r.thread_id),
    author_id: (r.author_id as string | null) ?? null,
    author_name: (r.author_name as string | null) ?? null,
    author_firm: r.author_firm_role != null,
    visibility: r.visibility === 'internal' ? 'internal' : 'public',
    body: String(r.body ?? ''),
    html: String(r.html ?? ''),
    via: String(r.via ?? 'portal'),
    created_at: Number(r.created_at),
    edited_at: r.edited_at == null ? null : Number(r.edited_at),
    deleted_at: r.deleted_at == null ? null : Number(r.deleted_at),
  };
}

/** A cursor on (created_at, id): `<ms>.<id>`. */
export function parseCursor(raw: unknown): { at: number; id: string } | undefined {
  if (typeof raw !== 'string') return undefined;
  const m = /^(\d{1,16})\.([0-9a-f-]{36})$/.exec(raw);
  return m ? { at: Number(m[1]), id: m[2]! } : undefined;
}
export const cursorOf = (m: { created_at: number; id: string }) => `${m.created_at}.${m.id}`;

/**
 * A page of a thread's messages for `v`: the newest `limit` (or those before `before`, or after
 * `after`), returned oldest first, and whether older ones exist. One query on the thread's index.
 */
export async function pageOfMessages(v: Viewer, threads: ThreadRules, threadId: string, opts: { limit: number; before?: { at: number; id: string }; after?: { at: number; id: string } }): Promise<{ rows: MessageRow[]; older: boolean }> {
  const q = messagesFor(v, threads).leftJoin('users as u', 'u.id', 'm.author_id').where('m.thread_id', threadId).select(MESSAGE_COLS);
  if (opts.after) {
    const a = opts.after;
    q.andWhere(function (this: Knex.QueryBuilder) {
      this.where('m.created_at', '>', a.at).orWhere(function (this: Knex.QueryBuilder) {
        this.where('m.created_at', a.at).andWhere('m.id', '>', a.id);
      });
    })
      .orderBy([{ column: 'm.created_at', order: 'asc' }, { column: 'm.id', order: 'asc' }])
      .limit(opts.limit);
    const rows = ((await q) as Array<Record<string, unknown>>).map(toMessage);
    return { rows, older: false };
  }
  if (opts.before) {
    const b = opts.before;
    q.andWhere(function (this: Knex.QueryBuilder) {
      this.where('m.created_at', '<', b.at).orWhere(function (this: Knex.QueryBuilder) {
        this.where('m.created_at', b.at).andWhere('m.id', '<', b.id);
      });
    });
  }
  q.orderBy([{ column: 'm.created_at', order: 'desc' }, { column: 'm.id', order: 'desc' }]).limit(opts.limit + 1);
  const rows = ((await q) as Array<Record<string, unknown>>).map(toMessage);
  const older = rows.length > opts.limit;
  return { rows: rows.slice(0, opts.limit).reverse(), older };
}

/** One message `v` may read. */
export async function findMessage(v: Viewer, threads: ThreadRules, id: string): Promise<MessageRow | undefined> {
  const row = (await messagesFor(v, threads).leftJoin('users as u', 'u.id', 'm.author_id').where('m.id', id).select(MESSAGE_COLS).first()) as Record<string, unknown> | undefined;
  return row ? toMessage(row) : undefined;
}

export interface AttachmentRow {
  id: string;
  message_id: string;
  name: string;
  content_type: string;
  size: number;
  blob_key: string;
}

/** The attachments of these messages (already checked readable), by message. */
export async function attachmentsOf(v: Viewer, messageIds: string[]): Promise<Map<string, AttachmentRow[]>> {
  const out = new Map<string, AttachmentRow[]>();
  if (!messageIds.length) return out;
  const rows = (await v.scope.table('messaging_attachments', 'a').whereIn('a.message_id', messageIds).orderBy('a.created_at').select('a.id', 'a.message_id', 'a.name', 'a.content_type', 'a.size', 'a.blob_key')) as Array<Record<string, unknown>>;
  for (const r of rows) {
    const a = { id: String(r.id), message_id: String(r.message_id), name: String(r.name), content_type: String(r.content_type), size: Number(r.size), blob_key: String(r.blob_key) };
    out.set(a.message_id, [...(out.get(a.message_id) ?? []), a]);
  }
  return out;
}

/** Each reader's read mark in a thread (for "seen by"). */
export async function readMarks(v: Viewer, threadId: string): Promise<Array<{ user_id: string; name: string; firm: boolean; read_through: number }>> {
  const rows = (await v.scope.table('messaging_reads', 'r').join('users as u', 'u.id', 'r.user_id').where('r.thread_id', threadId).select('r.user_id', 'u.name', 'u.firm_role', 'r.read_through')) as Array<Record<string, unknown>>;
  return rows.map((r) => ({ user_id: String(r.user_id), name: String(r.name), firm: r.firm_role != null, read_through: Number(r.read_through) }));
}

/** Words of a search, as the database's full-text query: every word must appear (prefix match on the last). */
export function searchMessages(db: Db | Trx, v: Viewer, threads: ThreadRules, q: string): Knex.QueryBuilder {
  const words = q
    .normalize('NFKC')
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .slice(0, 8);
  const base = messagesFor(v, threads).whereNull('m.deleted_at');
  if (!words.length) return base.whereRaw('1 = 0');
  if (isPostgresClient(db)) {
    const tsq = words.map((w, i) => `${w.replace(/[^\p{L}\p{N}]/gu, '')}${i === words.length - 1 ? ':*' : ''}`).join(' & ');
    return base.whereRaw(`m.search @@ to_tsquery('simple', ?)`, [tsq]);
  }
  const match = words.map((w, i) => `"${w.replace(/"/g, '""')}"${i === words.length - 1 ? '*' : ''}`).join(' ');
  return base.whereIn('m.id', db('messaging_fts').select('message_id').whereRaw('messaging_fts match ?', [match]).andWhere('workspace_id', v.workspaceId));
}
